import pkg from '../../package.json' with { type: 'json' }

/** The version of this OpenSync package, as package.json says. */
export const OPENSYNC_VERSION: string = pkg.version
