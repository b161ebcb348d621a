/**
 * The private MongoDB-compatible server `startDaprd` starts for the `'mongodb'` flavour. There is
 * no MongoDB server in Debian, so it is FerretDB 2 (a Go program speaking MongoDB's wire protocol)
 * in front of a private PostgreSQL with the DocumentDB extension, which stores the documents and
 * runs the queries. FerretDB pretends to be a one-member replica set (`--dev-repl-set-name`), which
 * Dapr's component requires for transactions; FerretDB has no multi-document transactions, so a
 * transaction's operations each land on their own.
 *
 * FerretDB comes from Go's module proxy (`npm run mongodb:build`); the DocumentDB extension must be
 * installed into the PostgreSQL in use (docs/dapr-store.md says how): no package of Debian's has it.
 */
import type { ChildProcess } from 'node:child_process'
import { execFileSync, spawn } from 'node:child_process'
import * as fs from 'node:fs'
import * as path from 'node:path'
import { cacheRoot } from './find.js'
import { DaprdStartError } from './model.js'
import type { PostgresCluster } from './postgres.js'
import { initCluster, removeCluster, startPostgresProcess, stopPostgres } from './postgres.js'
import { started, stop } from './processes.js'

/** The FerretDB release `npm run mongodb:build` builds, and the one these settings were proven with. */
export const FERRETDB_VERSION = '2.7.0'

const BUILD = 'run `npm run mongodb:build` in a clone of dapr-state-cache (it builds FerretDB from Go\'s module proxy), or set FERRETDB_PATH'
const documentdb = (bin: string): string =>
  `install the DocumentDB extension (documentdb, documentdb_core, with pg_cron, vector, postgis and rum) into the PostgreSQL of ${bin}: see "MongoDB" in docs/dapr-store.md`

// What DocumentDB needs loaded, and the settings FerretDB's own images use; `$$NOW` in updates
// (Dapr's TTL) needs `enableVariablesSupportForWriteCommands`.
const SETTINGS = [
  'shared_preload_libraries=pg_cron,pg_documentdb_core,pg_documentdb',
  'cron.database_name=postgres',
  'cron.log_run=off',
  'documentdb.enableLetAndCollationForQueryMatch=true',
  'documentdb.enableNowSystemVariable=true',
  'documentdb.enableSortbyIdPushDownToPrimaryKey=true',
  'documentdb.enableSchemaValidation=true',
  'documentdb.enableBypassDocumentValidation=true',
  'documentdb.enableVariablesSupportForWriteCommands=true',
]

/** Where `npm run mongodb:build` puts FerretDB. */
export const builtFerretdb = (env: NodeJS.ProcessEnv = process.env): string => path.join(cacheRoot(env), 'ferretdb', FERRETDB_VERSION, 'ferretdb')

/** FerretDB: `FERRETDB_PATH`, then the build's (the release proven here), then `ferretdb` on the PATH. */
const findFerretdb = (): string => {
  const candidates = [process.env['FERRETDB_PATH'], builtFerretdb(), ...(process.env['PATH'] ?? '').split(path.delimiter).filter((dir) => dir !== '').map((dir) => path.join(dir, 'ferretdb'))]
  const found = candidates.find((file) => file !== undefined && file !== '' && fs.existsSync(file) && fs.statSync(file).isFile())
  if (found === undefined) throw new DaprdStartError('E_MONGODB_START', `startDaprd: FerretDB was not found (FERRETDB_PATH, PATH, ${builtFerretdb()}): ${BUILD}`)
  return found
}

export interface MongoServer {
  readonly cluster: PostgresCluster
  readonly pgPort: number
  readonly port: number
  readonly debugPort: number
  readonly ferretdb: string
  postgres: ChildProcess
  wire: ChildProcess
}

/** Starts FerretDB on `server.port` over the server's PostgreSQL; resolves when it answers its readiness probe. */
const startWire = async (server: Omit<MongoServer, 'wire'>, timeoutMs: number): Promise<ChildProcess> => {
  const state = path.join(server.cluster.folder, 'ferretdb')
  fs.mkdirSync(state, { recursive: true })
  const child = spawn(
    server.ferretdb,
    [
      `--postgresql-url=postgres://postgres@127.0.0.1:${server.pgPort}/postgres`,
      `--listen-addr=127.0.0.1:${server.port}`,
      `--debug-addr=127.0.0.1:${server.debugPort}`,
      '--no-auth',
      `--state-dir=${state}`,
      '--telemetry=disable',
      '--dev-repl-set-name=rs0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  return started(child, {
    code: 'E_MONGODB_START',
    name: `FerretDB (${server.ferretdb})`,
    hint: BUILD,
    ready: async () => {
      try {
        const answer = await fetch(`http://127.0.0.1:${server.debugPort}/debug/readyz`, { signal: AbortSignal.timeout(1000) })
        await answer.arrayBuffer()
        return answer.ok
      } catch {
        return false // not listening yet
      }
    },
    awaited: `answer its readiness probe on port ${server.debugPort}`,
    timeoutMs,
  })
}

/** A new PostgreSQL cluster with DocumentDB, and FerretDB in front of it, on the ports given. */
export const startMongoServer = async (ports: readonly [number, number, number], timeoutMs: number): Promise<MongoServer> => {
  const ferretdb = findFerretdb()
  const cluster = initCluster()
  const [pgPort, port, debugPort] = ports
  let postgres: ChildProcess | undefined
  try {
    postgres = await startPostgresProcess(cluster, pgPort, timeoutMs, SETTINGS).catch((error: unknown) => {
      const text = error instanceof Error ? error.message : String(error)
      throw /pg_documentdb|pg_cron|could not access file/.test(text) ? new DaprdStartError('E_MONGODB_START', `startDaprd: PostgreSQL could not load DocumentDB: ${documentdb(cluster.bin)}\n${text}`) : error
    })
    try {
      const psql = fs.existsSync(path.join(cluster.bin, 'psql')) ? path.join(cluster.bin, 'psql') : 'psql'
      execFileSync(psql, ['-h', '127.0.0.1', '-p', String(pgPort), '-U', 'postgres', '-d', 'postgres', '-v', 'ON_ERROR_STOP=1', '-qc', 'CREATE EXTENSION IF NOT EXISTS documentdb CASCADE'], { stdio: ['ignore', 'pipe', 'pipe'] })
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new DaprdStartError('E_MONGODB_START', "startDaprd: psql was not found, to create the DocumentDB extension: install Debian's postgresql-client")
      }
      const stderr = (error as { stderr?: Buffer }).stderr?.toString().trim() ?? String(error)
      throw new DaprdStartError('E_MONGODB_START', `startDaprd: CREATE EXTENSION documentdb failed: ${stderr}: ${documentdb(cluster.bin)}`)
    }
    const server = { cluster, pgPort, port, debugPort, ferretdb, postgres }
    return { ...server, wire: await startWire(server, timeoutMs) }
  } catch (error) {
    if (postgres !== undefined) await stopPostgres(postgres, 5000)
    removeCluster(cluster)
    throw error
  }
}

/** Stops FerretDB and then PostgreSQL (the data is kept). */
export const stopMongoServer = async (server: MongoServer): Promise<void> => {
  await stop(server.wire, 2000)
  await stopPostgres(server.postgres, 5000)
}

/** Starts both again after `stopMongoServer`, with the data they had. */
export const restartMongoServer = async (server: MongoServer, timeoutMs: number): Promise<void> => {
  const running = (child: ChildProcess): boolean => child.exitCode === null && child.signalCode === null
  if (!running(server.postgres)) server.postgres = await startPostgresProcess(server.cluster, server.pgPort, timeoutMs, SETTINGS)
  if (!running(server.wire)) server.wire = await startWire(server, timeoutMs)
}

/** Stops both and removes the cluster's folder. */
export const removeMongoServer = async (server: MongoServer): Promise<void> => {
  await stopMongoServer(server)
  removeCluster(server.cluster)
}
