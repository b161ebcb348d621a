#!/usr/bin/env node
// Builds the pinned Dapr runtime (`daprd`) from Dapr's Go modules, once per machine.
//
// The Go module in tools/daprd pins the Dapr release and registers the few components we test
// with; this script turns it into a binary in a cache folder outside the clone, keyed by the
// pinned version and a hash of the module's files, so every clone on the machine (CI's included)
// reuses it. When the binary is already there it only prints its path and version.
//
// One detail needs a step of its own: Dapr's `cmd/daprd/components` package refuses to load
// (a panic in init) unless it is built with the tag that compiles in every component Dapr ships.
// We want the runtime with only our components, so the build uses a copy of the pinned Dapr module
// taken from Go's module cache, in which that one guard file is reduced to its package clause.
// The copy lives in the build folder, never in the clone; nothing else of Dapr's changes.
//
// Output: the binary's path on stdout's first line, `dapr <version>` on the second.
// Environment: DAPR_STATE_CACHE_HOME (cache root; default $XDG_CACHE_HOME or ~/.cache, then
// `dapr-state-cache`), GO (the go command).
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const moduleDir = path.join(root, 'tools', 'daprd')
const go = process.env.GO ?? 'go'
const daprModule = 'github.com/dapr/dapr'
const guardFile = path.join('cmd', 'daprd', 'components', 'zz_notag.go')

const log = (line) => process.stderr.write(`dapr:build: ${line}\n`)

function fail(message) {
  process.stderr.write(`dapr:build: ${message}\n`)
  process.exit(1)
}

function pinnedVersion() {
  const goMod = fs.readFileSync(path.join(moduleDir, 'go.mod'), 'utf8')
  const match = /^\s*github\.com\/dapr\/dapr\s+v(\d+\.\d+\.\d+)\s*$/m.exec(goMod)
  if (match === null) fail(`tools/daprd/go.mod does not require ${daprModule} at a release version`)
  return match[1]
}

function buildKey() {
  const hash = createHash('sha256')
  for (const name of ['go.mod', 'go.sum', 'main.go']) hash.update(fs.readFileSync(path.join(moduleDir, name)))
  hash.update(fs.readFileSync(fileURLToPath(import.meta.url)))
  return hash.digest('hex').slice(0, 12)
}

function cacheRoot() {
  if (process.env.DAPR_STATE_CACHE_HOME) return process.env.DAPR_STATE_CACHE_HOME
  const base = process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache')
  return path.join(base, 'dapr-state-cache')
}

function run(args, options = {}) {
  return execFileSync(go, args, { cwd: moduleDir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], ...options })
}

function reportedVersion(binary) {
  try {
    return execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 30_000 }).trim()
  } catch {
    return undefined
  }
}

const version = pinnedVersion()
const outDir = path.join(cacheRoot(), 'daprd', `${version}-${buildKey()}`)
const binary = path.join(outDir, 'daprd')

if (fs.existsSync(binary) && reportedVersion(binary) === version) {
  process.stdout.write(`${binary}\ndapr ${version}\n`)
  process.exit(0)
}

try {
  execFileSync(go, ['version'], { stdio: 'ignore' })
} catch {
  fail('the Go toolchain was not found (set GO or put go on PATH); it is needed once, to build daprd')
}

const started = Date.now()
log(`building daprd ${version} into ${outDir} (the first build on a machine takes a few minutes)`)
fs.mkdirSync(outDir, { recursive: true })
const work = fs.mkdtempSync(path.join(outDir, 'work-'))
try {
  // Module downloads go through Go's own caches; -mod=readonly holds the build to go.sum.
  run(['mod', 'download', daprModule])
  const source = run(['list', '-mod=readonly', '-m', '-f', '{{.Dir}}', daprModule]).trim()
  const copy = path.join(work, 'dapr')
  fs.cpSync(source, copy, { recursive: true, filter: (from) => !from.startsWith(path.join(source, 'tests')) })
  for (const entry of fs.readdirSync(copy, { recursive: true, withFileTypes: true })) {
    if (!entry.isSymbolicLink()) fs.chmodSync(path.join(entry.parentPath, entry.name), entry.isDirectory() ? 0o755 : 0o644)
  }
  fs.writeFileSync(
    path.join(copy, guardFile),
    '// Reduced by dapr-state-cache\'s build: components are registered by its own main package.\npackage components\n',
  )
  const modFile = path.join(work, 'build.mod')
  fs.copyFileSync(path.join(moduleDir, 'go.mod'), modFile)
  fs.copyFileSync(path.join(moduleDir, 'go.sum'), path.join(work, 'build.sum'))
  run(['mod', 'edit', `-modfile=${modFile}`, `-replace=${daprModule}=${copy}`])
  const partial = path.join(work, 'daprd')
  run(
    [
      'build',
      `-modfile=${modFile}`,
      '-mod=readonly',
      '-trimpath',
      '-ldflags',
      `-s -w -X github.com/dapr/dapr/pkg/buildinfo.version=${version}`,
      '-o',
      partial,
      '.',
    ],
    { env: { ...process.env, CGO_ENABLED: '0' }, stdio: ['ignore', 'inherit', 'inherit'] },
  )
  const built = reportedVersion(partial)
  if (built !== version) fail(`the built daprd reports version ${JSON.stringify(built)}, expected ${version}`)
  fs.renameSync(partial, binary)
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
log(`built in ${Math.round((Date.now() - started) / 1000)} s`)
process.stdout.write(`${binary}\ndapr ${version}\n`)
