#!/usr/bin/env node
// Builds FerretDB, the MongoDB-compatible server of `startDaprd({ flavour: 'mongodb' })`, from Go's
// module proxy into a cache folder outside the clone, once per machine. It prints the binary's path.
//
// FerretDB alone is not enough: it stores documents in PostgreSQL with the DocumentDB extension,
// which no Debian package has; docs/dapr-store.md ("MongoDB") says how to build and install it.
// Environment: DAPR_STATE_CACHE_HOME (cache root; default $XDG_CACHE_HOME or ~/.cache, then
// `dapr-state-cache`), GO (the go command).
import { execFileSync } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'

// Keep in step with FERRETDB_VERSION in src/testing/daprd/mongodb.ts.
const VERSION = '2.7.0'
const env = process.env
const root = env.DAPR_STATE_CACHE_HOME || path.join(env.XDG_CACHE_HOME || path.join(env.HOME || os.homedir(), '.cache'), 'dapr-state-cache')
const dir = path.join(root, 'ferretdb', VERSION)
const binary = path.join(dir, 'ferretdb')

if (!fs.existsSync(binary)) {
  process.stderr.write(`mongodb:build: building FerretDB v${VERSION} (go install, a minute the first time)\n`)
  fs.mkdirSync(dir, { recursive: true })
  try {
    execFileSync(env.GO ?? 'go', ['install', `github.com/FerretDB/FerretDB/v2/cmd/ferretdb@v${VERSION}`], {
      env: { ...env, GOBIN: dir, GOFLAGS: '-mod=mod', CGO_ENABLED: '0' },
      stdio: ['ignore', 'inherit', 'inherit'],
    })
  } catch (error) {
    process.stderr.write(`mongodb:build: go install failed (${error.message}); Go and Go's module proxy are needed\n`)
    process.exit(1)
  }
}
console.log(binary)
