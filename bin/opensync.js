#!/usr/bin/env -S node --max-semi-space-size=16
// Node >= 22.18 runs the TypeScript sources directly (type stripping); no build step.
import module from 'node:module'
import { setFlagsFromString } from 'node:v8'

// The old generation grows to at most twice what the last full GC kept (V8's default is up to
// four times): a sync's garbage then stays ~70 MB smaller, for no time measured (docs/memory.md).
// Set here, not on the first line: NODE_OPTIONS refuses the flag, and it works at run time.
setFlagsFromString('--heap-growing-percent=100')

// Type stripping loads a WebAssembly build of swc that holds ~25 MB of RSS for the rest of
// the process. The compile cache keeps each file's stripped and compiled code, so a process
// whose sources have not changed since the last one never loads it (docs/memory.md).
// NODE_COMPILE_CACHE=<dir> moves the cache, NODE_DISABLE_COMPILE_CACHE=1 turns it off.
module.enableCompileCache?.()

// Imported only now: a static import would be stripped before the cache is on.
const { main, reportError } = await import('../src/cli/main.ts')

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    process.exitCode = reportError(error)
  },
)
