/**
 * What `startDaprd` takes and gives: the pinned Dapr release, the state component flavours, its
 * options, the running sidecar and its private Redis, and the error it throws when it cannot start.
 */

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/**
 * The Dapr release `npm run dapr:build` builds (kept equal to `tools/daprd/go.mod` by a test).
 *
 * @category model
 * @since 0.2.0
 */
export const DAPR_VERSION = '1.18.3'

/**
 * Which Dapr state component backs the stores: `state.in-memory`, `state.redis`, `state.redis` in
 * cluster mode (`'redis-cluster'`: a private cluster of three primaries), or `state.postgresql`
 * (v2, on a private PostgreSQL server; its pub/sub is `pubsub.in-memory`), or `state.mongodb` (on a
 * private FerretDB 2, a MongoDB-compatible server, over PostgreSQL with DocumentDB; its pub/sub is
 * `pubsub.in-memory`).
 *
 * @category model
 * @since 0.2.0
 */
export type Flavour = 'in-memory' | 'redis' | 'redis-cluster' | 'postgres' | 'mongodb'

/**
 * @category model
 * @since 0.2.0
 */
export interface StartDaprdOptions {
  /** The state component of every store (default `'in-memory'`). */
  readonly flavour?: Flavour | undefined
  /** `host:port` of a Redis to use; absent with `'redis'`: a private `redis-server` is started. */
  readonly redisHost?: string | undefined
  /**
   * With `'postgres'`: the `connectionString` of a PostgreSQL server to use (another daprd's
   * `postgres.connectionString`, for replicas on one database); absent, a private server is started.
   */
  readonly postgresConnection?: string | undefined
  /**
   * With `'mongodb'`: `host:port` of a MongoDB-compatible server to use (another daprd's
   * `mongodb.host`, for replicas on one server); absent, a private one is started.
   */
  readonly mongodbHost?: string | undefined
  /** The daprd binary (default: `DAPRD_PATH`, then `~/.dapr/bin/daprd`, then `npm run dapr:build`'s). */
  readonly daprdPath?: string | undefined
  /** When set, daprd requires this `dapr-api-token` on every call but the health probes. */
  readonly apiToken?: string | undefined
  /** The app id (default `"test-app"`). */
  readonly appId?: string | undefined
  /** State store names (default `["cache"]`). */
  readonly stores?: ReadonlyArray<string> | undefined
  /** How long to wait for the sidecar to be ready (default 30 s). */
  readonly startTimeoutMs?: number | undefined
  /** The `redis-server` command for a private Redis (default: `redis-server` on `PATH`). */
  readonly redisServerPath?: string | undefined
  /**
   * Pub/sub component names (default `["pubsub"]`; `[]`: none): `pubsub.redis` on the same Redis
   * with `consumerID: "{uuid}"` (every daprd its own consumer group, so each gets every message) for
   * the `'redis'` flavour, `pubsub.in-memory` (this daprd alone) for `'in-memory'`.
   */
  readonly pubsubs?: ReadonlyArray<string> | undefined
  /** The app's port (`--app-port`): daprd asks it for its subscriptions and delivers to it. */
  readonly appPort?: number | undefined
  /**
   * The Dapr HTTP port (default: a free one): fixed, an app can be given the sidecar's address
   * before daprd starts, as `dapr run` gives it `DAPR_HTTP_PORT`.
   */
  readonly httpPort?: number | undefined
  /**
   * Component files of your own (YAML documents, such as a deployment's), loaded instead of the ones
   * made from `stores` and `pubsubs`. With the `'redis'` flavour every `redisHost` value in them is
   * replaced by the Redis in use (the private one, or `redisHost`), so a file written for
   * `localhost:6379` runs here unchanged.
   */
  readonly components?: ReadonlyArray<string> | undefined
  /** Extra command-line flags for daprd, for example `['--max-body-size', '8Mi']`. */
  readonly daprdArgs?: ReadonlyArray<string> | undefined
}

/**
 * A private Redis that `startDaprd` started (absent when `redisHost` was given).
 *
 * @category model
 * @since 0.2.0
 */
export interface PrivateRedis {
  /** `127.0.0.1:PORT` */
  readonly host: string
  readonly port: number
  readonly pid: number
  /** Stops it (SIGSTOP-free: it exits), for fault tests; `start()` brings it back on the same port, empty. */
  readonly stop: () => Promise<void>
  /** Starts it again after `stop()`, empty (no persistence), on the same port. */
  readonly start: () => Promise<void>
}

/**
 * The private PostgreSQL server `startDaprd` started for the `'postgres'` flavour.
 *
 * @category model
 * @since 0.5.0
 */
export interface PrivatePostgres {
  /** `127.0.0.1` */
  readonly host: string
  readonly port: number
  readonly pid: number
  /** The component's `connectionString` (user `postgres`, database `postgres`, no password, no TLS). */
  readonly connectionString: string
  /** Stops the server (its data kept), for fault tests; `start()` brings it back on the same port. */
  readonly stop: () => Promise<void>
  /** Starts it again after `stop()`, with the data it had. */
  readonly start: () => Promise<void>
}

/**
 * The private MongoDB-compatible server `startDaprd` started for the `'mongodb'` flavour: FerretDB
 * (`server` names its release) over a private PostgreSQL with the DocumentDB extension.
 *
 * @category model
 * @since 0.5.0
 */
export interface PrivateMongo {
  /** `127.0.0.1:PORT`, the component's `host`. */
  readonly host: string
  readonly port: number
  /** FerretDB's process id. */
  readonly pid: number
  /** What answers on `host`: `FerretDB <version> on PostgreSQL with DocumentDB`. */
  readonly server: string
  /** The connection string of the PostgreSQL under FerretDB (user `postgres`, no password, no TLS). */
  readonly postgresConnection: string
  /** Stops FerretDB and its PostgreSQL (the data kept), for fault tests. */
  readonly stop: () => Promise<void>
  /** Starts both again after `stop()`, with the data they had. */
  readonly start: () => Promise<void>
}

/**
 * @category model
 * @since 0.2.0
 */
export interface Daprd {
  /** `http://127.0.0.1:PORT`, the Dapr HTTP API. */
  readonly url: string
  readonly httpPort: number
  readonly grpcPort: number
  readonly pid: number
  /** The runtime version `/v1.0/metadata` reports. */
  readonly version: string
  readonly flavour: Flavour
  /** The temporary folder holding the component files daprd loaded; removed by `close()`. */
  readonly resourcesPath: string
  readonly redis?: PrivateRedis | undefined
  /** The private PostgreSQL server of the `'postgres'` flavour. */
  readonly postgres?: PrivatePostgres | undefined
  /** The private MongoDB-compatible server of the `'mongodb'` flavour. */
  readonly mongodb?: PrivateMongo | undefined
  /** Kills daprd at once (SIGKILL), for fault tests; `restart()` starts it again on the same ports. */
  readonly kill: () => Promise<void>
  /** Starts daprd again, on the same ports, after `kill()`. */
  readonly restart: () => Promise<void>
  /** Stops daprd and its private Redis, and removes the component folder. Idempotent. */
  readonly close: () => Promise<void>
}

/**
 * Why `startDaprd` could not give a ready sidecar. `code` is stable:
 * `E_DAPRD_NOT_FOUND`, `E_DAPRD_EXITED`, `E_DAPRD_NOT_READY`, `E_REDIS_START`, `E_POSTGRES_START`, `E_MONGODB_START`,
 * `E_DAPRD_OPTIONS`.
 *
 * @category model
 * @since 0.2.0
 */
export class DaprdStartError extends Error {
  override readonly name = 'DaprdStartError'
  constructor(
    readonly code: 'E_DAPRD_NOT_FOUND' | 'E_DAPRD_EXITED' | 'E_DAPRD_NOT_READY' | 'E_REDIS_START' | 'E_POSTGRES_START' | 'E_MONGODB_START' | 'E_DAPRD_OPTIONS',
    message: string,
  ) {
    super(message)
  }
}
