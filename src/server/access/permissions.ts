// Roles and permissions are the service's (the CLI manages users too); routes import them here.
export * from '../../service/access/permissions.ts'
