/**
 * The private PostgreSQL `startDaprd` starts for the `'postgres'` flavour: Debian's server
 * (`initdb` and `postgres` on the `PATH` or under `/usr/lib/postgresql/<n>/bin`), a
 * fresh cluster in a temporary folder, loopback only, durability off (a test database), trust
 * authentication for the `postgres` user. PostgreSQL refuses to run as root: as root, the cluster
 * belongs to the system's `postgres` user and the server runs as it.
 */
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { DaprdStartError } from './model.js'
import { started } from './processes.js'

const INSTALL = "install Debian's postgresql (apt-get install postgresql)"

/** The folder of PostgreSQL's programs: the one with `initdb` on the PATH, else the newest under /usr/lib/postgresql. */
const binaries = (): string => {
  for (const dir of (process.env['PATH'] ?? '').split(path.delimiter)) {
    if (dir !== '' && fs.existsSync(path.join(dir, 'initdb')) && fs.existsSync(path.join(dir, 'postgres'))) return dir
  }
  const root = '/usr/lib/postgresql'
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((name) => /^\d+$/.test(name)).sort((a, b) => Number(b) - Number(a)) : []
  for (const version of versions) {
    const dir = path.join(root, version, 'bin')
    if (fs.existsSync(path.join(dir, 'initdb'))) return dir
  }
  throw new DaprdStartError('E_POSTGRES_START', `startDaprd: PostgreSQL's initdb and postgres were not found on the PATH or under ${root}: ${INSTALL}`)
}

/** As root, the user the cluster belongs to and the server runs as; else the current user. */
const runAs = (): { uid: number; gid: number } | undefined => {
  if (process.getuid?.() !== 0) return undefined
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
    return { uid, gid }
  } catch {
    throw new DaprdStartError('E_POSTGRES_START', `startDaprd: PostgreSQL does not run as root, and there is no postgres user to run it as: ${INSTALL}`)
  }
}

export interface PostgresCluster {
  readonly folder: string
  readonly bin: string
  readonly user: { uid: number; gid: number } | undefined
}

/** A new, empty cluster in a temporary folder. */
export const initCluster = (): PostgresCluster => {
  const bin = binaries()
  const user = runAs()
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'dapr-state-cache-postgres-'))
  if (user !== undefined) fs.chownSync(folder, user.uid, user.gid)
  try {
    execFileSync(path.join(bin, 'initdb'), ['-D', path.join(folder, 'data'), '-U', 'postgres', '-A', 'trust', '--no-sync', '-E', 'UTF8', '--locale', 'C'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(user === undefined ? {} : user),
    })
  } catch (error) {
    fs.rmSync(folder, { recursive: true, force: true })
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error)
    throw new DaprdStartError('E_POSTGRES_START', `startDaprd: initdb failed: ${stderr.trim()}`)
  }
  return { folder, bin, user }
}

/** Starts the cluster's server on `port` (with `settings`, `name=value` each); resolves when it accepts connections. */
export const startPostgresProcess = async (cluster: PostgresCluster, port: number, timeoutMs: number, settings: ReadonlyArray<string> = []): Promise<ChildProcess> => {
  const options: SpawnOptions = { stdio: ['ignore', 'pipe', 'pipe'], ...(cluster.user === undefined ? {} : cluster.user) }
  // Loopback, its socket in its own folder, durability off: a database for tests.
  const child = spawn(
    path.join(cluster.bin, 'postgres'),
    ['-D', path.join(cluster.folder, 'data'), '-p', String(port), '-k', cluster.folder, '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200', ...settings.flatMap((setting) => ['-c', setting])],
    options,
  )
  return started(child, {
    code: 'E_POSTGRES_START',
    name: 'postgres',
    hint: INSTALL,
    // The server says so in its log once it takes connections (after any recovery at start).
    ready: (printed) => printed.includes('ready to accept connections'),
    awaited: `accept connections on port ${port}`,
    timeoutMs,
  })
}

/** Removes the cluster's folder (its server stopped first). */
export const removeCluster = (cluster: PostgresCluster): void => fs.rmSync(cluster.folder, { recursive: true, force: true })

/**
 * Stops the server at once: PostgreSQL's fast shutdown (SIGINT) ends every session, where SIGTERM
 * (a smart shutdown) would wait for daprd's connections to close. SIGKILL after `graceMs`.
 */
export const stopPostgres = async (child: ChildProcess, graceMs: number): Promise<void> => {
  if (child.exitCode !== null || child.signalCode !== null) return
  child.kill('SIGINT')
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
  await new Promise<void>((resolve) => child.once('exit', () => resolve()))
  clearTimeout(timer)
}
