/**
 * The backplane: replicas tell each other of every change over Dapr's pub/sub building block, so
 * that no replica's in-process tier (`withL1`) keeps serving a value another replica replaced or
 * invalidated, and no load under way here stores or hands out a value computed before the change.
 *
 * Each change (a value written, a key invalidated) is published as a small JSON message, with the
 * replica it comes from and a sequence number, to a topic of a Dapr pub/sub component
 * (`POST /v1.0/publish/{pubsubName}/{topic}`). Dapr delivers it to every replica through its
 * programmatic subscription: daprd asks the app for `GET /dapr/subscribe` and POSTs each event to
 * the route given there. The backplane answers both, on a port of its own (`listen`) or mounted in
 * the app's server (`handler`); point daprd's `--app-port` at it. Every replica must have its own
 * consumer (with `pubsub.redis`, `consumerID: "{uuid}"`): docs/replicas.md shows the component.
 *
 * A replica trusts its tier only while the bus is seen working: it publishes a heartbeat every
 * `heartbeatMs` and must hear its own back within `suspectAfterMs`. While it does not (the bus or
 * daprd is away, a publish failed, daprd closed a connection or subscribed anew, a message of
 * another replica was lost),
 * reads skip the tier and go to the store; when its heartbeat is heard again the tier is cleared
 * and used again. A publish never fails a call; an `invalidate` waits for its message at most twice
 * `publishTimeoutMs` (the message on its way before it, then its own), a miss not at all. An
 * invalidation whose message failed is sent again after each heartbeat that goes through, for 10 s.
 *
 * @since 0.5.0
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { createServer } from 'node:http'
import { randomBytes } from 'node:crypto'
import * as E from 'fp-ts/lib/Either.js'
import * as t from 'io-ts'
import * as CE from './CacheError.js'
import type { Step } from './Cached.js'
import { step } from './Cached.js'
import { combineMetrics, metricsSinkCodec } from './Metrics.js'
import type { Message } from './internal/messages.js'
import { FORMAT, MAX_KEYS_PER_MESSAGE, OVERTAKE_WINDOW_MS, readMessage, sequences } from './internal/messages.js'
import { busCodec, checkOption, group, loggerCodec, milliseconds, optional } from './internal/options.js'
import type { BackplaneEvent, Bus } from './internal/parts.js'
import { acquire, sender } from './stores/dapr/http.js'
import { resolveDaprUrl } from './stores/dapr/options.js'
import { toError } from './errors.js'

export type { BackplaneEvent, Bus } from './internal/parts.js'

// -------------------------------------------------------------------------------------
// model
// -------------------------------------------------------------------------------------

/** A pub/sub component or topic name as Dapr takes it in a path: letters, digits, `-`, `_`, `.`. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/
const daprName = new t.Type<string, string, unknown>(
  'a Dapr name (letters, digits, -, _ and ., at most 200)',
  (u): u is string => typeof u === 'string' && NAME.test(u),
  (u, c) => (typeof u === 'string' && NAME.test(u) ? t.success(u) : t.failure(u, c)),
  t.identity,
)
const port = new t.Type<number, number, unknown>(
  'a TCP port (1 to 65535; for a free one, call listen(0) and give daprd the port it resolves with)',
  (u): u is number => typeof u === 'number' && Number.isInteger(u) && u >= 1 && u <= 65_535,
  (u, c) => (typeof u === 'number' && Number.isInteger(u) && u >= 1 && u <= 65_535 ? t.success(u) : t.failure(u, c)),
  t.identity,
)

/**
 * The options of a backplane, described once for `backplane(...)`, `withBackplane` and
 * `cacheable({ backplane })`:
 * - `pubsubName`: the Dapr pub/sub component (default `"pubsub"`);
 * - `topic`: the topic of this library's messages (default `"dapr-state-cache"`);
 * - `daprUrl`, `apiToken`: the sidecar, as for `daprStore` (default: Dapr's environment variables);
 * - `appApiToken`: the `dapr-api-token` daprd sends the app, required on every request to the
 *   endpoint when set (default: `APP_API_TOKEN`, as daprd reads it);
 * - `listen`: a port to serve daprd's calls on (`--app-port`); unset, mount `handler` in the app's
 *   own server (default: `DAPR_STATE_CACHE_BACKPLANE_PORT` when set);
 * - `host`: the address `listen` binds (default `127.0.0.1`, where daprd runs beside the app);
 * - `publishTimeoutMs`: the most a publish may take (default 1,000);
 * - `heartbeatMs`: how often this replica says it is alive (default 1,000);
 * - `suspectAfterMs`: how long without hearing its own heartbeat before the tier is not trusted
 *   (default 3,000); also how long a missing message of another replica may be late;
 * - `logger`: where warnings go (default `console`); `metrics`: sinks its failures are counted in.
 *
 * @category model
 * @since 0.5.0
 */
export const BackplaneOptionsCodec = group('BackplaneOptions', {
  pubsubName: optional(daprName),
  topic: optional(daprName),
  daprUrl: optional(t.string),
  apiToken: optional(t.string),
  appApiToken: optional(t.string),
  listen: optional(port),
  host: optional(t.string),
  publishTimeoutMs: optional(milliseconds),
  heartbeatMs: optional(milliseconds),
  suspectAfterMs: optional(milliseconds),
  logger: optional(loggerCodec),
  metrics: optional(t.readonlyArray(metricsSinkCodec, 'an array of CacheMetrics sinks')),
})

/**
 * @category model
 * @since 0.5.0
 */
export type BackplaneOptions = t.TypeOf<typeof BackplaneOptionsCodec> & {
  /** Where the defaults are read from (default `process.env`). */
  readonly env?: Readonly<Record<string, string | undefined>> | undefined
}

/**
 * What a backplane has done since it was made.
 *
 * @category model
 * @since 0.5.0
 */
export interface BackplaneStats {
  /** Messages this replica published (heartbeats included), and how many of them failed. */
  readonly published: number
  readonly publishFailures: number
  /** Changes of other replicas applied (heartbeats, duplicates and this replica's own are not counted). */
  readonly received: number
  /** Messages ignored: malformed, or of a newer format. */
  readonly ignored: number
  /** Times the in-process tiers were cleared because messages may have been missed. */
  readonly cleared: number
  /** Whether the tiers are trusted now. */
  readonly trusted: boolean
}

/**
 * A backplane: one per process, shared by every cached function that uses it.
 *
 * @category model
 * @since 0.5.0
 */
export interface Backplane extends Bus {
  /** This replica's id in its messages (random per backplane). */
  readonly replicaId: string
  readonly pubsubName: string
  readonly topic: string
  /** The entry daprd expects in `GET /dapr/subscribe`, for an app that answers that route itself. */
  readonly subscription: { readonly pubsubname: string; readonly topic: string; readonly route: string }
  /**
   * daprd's calls, for a `node:http` server of the app's own (Express and Fastify's raw requests
   * too): answers `GET /dapr/subscribe` and the topic's route, and returns false, untouched, for
   * any other request.
   */
  readonly handler: (request: IncomingMessage, response: ServerResponse) => boolean
  /** Serves `handler` on `port` (0: a free one); resolves with the port once listening. */
  readonly listen: (port: number, host?: string) => Promise<number>
  /** What it has done so far, and whether the tiers are trusted now. */
  readonly stats: () => BackplaneStats
  /** Stops the heartbeat and the server, and releases the connection pool. */
  readonly close: () => Promise<void>
}

/** The route daprd POSTs this library's messages to. */
export const BACKPLANE_ROUTE = '/dapr-state-cache/backplane'

/** The most key characters one message carries (its keys are split over several past it). */
const MAX_MESSAGE_CHARS = 256 * 1024

/** How long a new value's message may wait for others to share it. */
const SET_LINGER_MS = 25

/** The most invalidated keys whose message failed that are kept to be sent again. */
const MAX_UNSENT = 10_000

/** The largest event body read. */
const MAX_EVENT_BYTES = 1024 * 1024

// -------------------------------------------------------------------------------------
// constructors
// -------------------------------------------------------------------------------------

/**
 * Decodes a backplane's options; a bad one throws a `CacheOptionsError` naming it.
 *
 * @category constructors
 * @since 0.5.0
 */
export const backplaneOptions = (option: string, value: unknown): BackplaneOptions => {
  if (typeof value === 'object' && value !== null && 'env' in value) {
    const { env, ...rest } = value
    if (env !== undefined && (typeof env !== 'object' || env === null)) throw toError(CE.invalidOptions(`${option}.env`, env, 'an object of environment variables'))
    return { ...checkOption(option, BackplaneOptionsCodec, rest), env: env as BackplaneOptions['env'] }
  }
  return checkOption(option, BackplaneOptionsCodec, value)
}

/**
 * A new backplane. It starts its heartbeat at once, and serves daprd's calls on `listen` when set.
 *
 * @category constructors
 * @since 0.5.0
 */
export const backplane = (options: BackplaneOptions = {}): Backplane => {
  const decoded = backplaneOptions('backplane', options)
  const env = decoded.env ?? process.env
  const origin = resolveDaprUrl(decoded.daprUrl, env)
  const apiToken = decoded.apiToken ?? (env['DAPR_API_TOKEN'] === '' ? undefined : env['DAPR_API_TOKEN'])
  if (apiToken !== undefined && !/^[\t\x20-\x7e\x80-\xff]*$/.test(apiToken)) {
    throw toError(CE.invalidOptions(decoded.apiToken === undefined ? 'DAPR_API_TOKEN' : 'backplane.apiToken', CE.NOT_SHOWN, 'a header value'))
  }
  const appApiToken = decoded.appApiToken ?? (env['APP_API_TOKEN'] === '' ? undefined : env['APP_API_TOKEN'])
  const pubsubName = decoded.pubsubName ?? 'pubsub'
  const topic = decoded.topic ?? 'dapr-state-cache'
  const publishTimeoutMs = decoded.publishTimeoutMs ?? 1000
  const heartbeatMs = decoded.heartbeatMs ?? 1000
  const suspectAfterMs = decoded.suspectAfterMs ?? 3000
  const logger = decoded.logger ?? console
  const metrics = combineMetrics(decoded.metrics ?? [])
  const envPort = env['DAPR_STATE_CACHE_BACKPLANE_PORT']
  const listenPort = decoded.listen ?? (envPort === undefined || envPort === '' ? undefined : checkOption('DAPR_STATE_CACHE_BACKPLANE_PORT', port, Number(envPort)))

  const replicaId = randomBytes(9).toString('base64url')
  const { pool, release } = acquire(origin, 4, publishTimeoutMs, 'backplane')
  const send = sender(pool, origin)
  const path = `/v1.0/publish/${pubsubName}/${topic}`
  const headers: Record<string, string> = { 'content-type': 'application/json', ...(apiToken === undefined ? {} : { 'dapr-api-token': apiToken }) }

  const listeners = new Set<(event: BackplaneEvent) => void>()
  const seen = sequences()
  let seq = 0
  const counts = { published: 0, publishFailures: 0, received: 0, ignored: 0, cleared: 0 }
  // Trust: the tier is used only while this replica hears its own heartbeats. `needBeat`: a beat
  // with at least this number must come back first (one sent after the trouble was noticed).
  let trusted = false
  let lastOwnBeat = Number.NEGATIVE_INFINITY
  let needBeat = 1
  let closed = false

  const warnings = new Map<string, number>()
  const warn = (kind: string, message: string): void => {
    const now = performance.now()
    if ((warnings.get(kind) ?? Number.NEGATIVE_INFINITY) > now - 60_000) return
    warnings.set(kind, now)
    try {
      logger.warn(`dapr-state-cache: backplane: ${message}`)
    } catch {
      // A broken logger must not stop the backplane.
    }
  }

  const emit = (event: BackplaneEvent): void => {
    for (const listener of listeners) {
      try {
        listener(event)
      } catch {
        // One cached function's trouble must not keep the others from hearing.
      }
    }
  }

  /** Messages may have been missed: the tier is not trusted until a beat sent from now comes back. */
  const suspect = (kind: string, why: string): void => {
    if (trusted) warn(kind, `${why}; in-process tiers are bypassed until the bus is heard again`)
    else lastTrouble = why
    trusted = false
    needBeat = seq + 1
  }

  const isTrusted = (): boolean => {
    if (trusted && performance.now() - lastOwnBeat > suspectAfterMs) suspect('silent', `no heartbeat of this replica came back within ${suspectAfterMs} ms`)
    return trusted
  }

  // Until its first heartbeat comes back, a replica does not trust its tier. daprd may start after
  // the app (with --app-port it waits for it), so a while without is normal; longer, it is a setup
  // mistake, said once.
  const startedAt = performance.now()
  const startupMs = 3 * suspectAfterMs
  let everTrusted = false
  let lastTrouble: string | undefined
  const neverHeard = (): void => {
    if (everTrusted || performance.now() - startedAt < startupMs) return
    warn(
      'never',
      `no heartbeat of this replica came back in ${Math.round(startupMs / 1000)} s, so in-process tiers are not used` +
        ` (${lastTrouble ?? 'publishing works'}); check that the pub/sub component ${JSON.stringify(pubsubName)} exists and that daprd's` +
        ` --app-port reaches this backplane (its \`listen\` port, or its \`handler\` mounted in the app's server)`,
    )
  }

  const post = async (message: Message): Promise<boolean> => {
    counts.published++
    const answer = await send({ method: 'POST', path, headers, body: JSON.stringify(message) }, undefined, publishTimeoutMs)
    const ok = E.isRight(answer) && answer.right.status === 204
    if (!ok) {
      counts.publishFailures++
      const error = E.isLeft(answer) ? answer.left : CE.storeRejected(answer.right.status, answer.right.body.slice(0, 300))
      try {
        metrics.recordError(undefined, error)
      } catch {
        // Counting must not break the backplane.
      }
      suspect('publish', `a publish to ${pubsubName}/${topic} failed (${error.message})`)
    }
    return ok
  }

  // Changes go out together: one message in flight at a time, and the next carries every change
  // made meanwhile. An invalidation goes out at the end of its turn (its caller waits for it); a new
  // value may wait up to SET_LINGER_MS for others to share its message (nobody waits for it, and a
  // write per message would cost every write a request). One message per kind, of at most
  // MAX_KEYS_PER_MESSAGE keys.
  const batch = { set: new Set<string>(), delete: new Set<string>() }
  let inFlight: Promise<boolean> | undefined
  let next: Promise<boolean> | undefined
  let hurry: (() => void) | undefined
  // Invalidated keys whose message failed, with when (oldest first). The other replicas' tiers are
  // cleared anyway once they notice the gap in this replica's numbers, but a write of theirs that
  // the invalidation overtook is deleted only when they hear of it: the keys go out again after each
  // heartbeat that went through, one message at a time, for as long as they would still delete such
  // a write. A new invalidation of a key starts its time anew.
  const unsent = new Map<string, number>()
  let resending = false
  const postKeys = async (kind: 'delete' | 'set', keys: Array<string>): Promise<boolean> => {
    const ok = await post({ v: FORMAT, origin: replicaId, seq: ++seq, kind, keys })
    // Nothing to keep or to clear when every invalidation went out: the usual case costs nothing.
    if (kind === 'delete' && (!ok || unsent.size > 0)) {
      const now = performance.now()
      for (const key of keys) {
        if (ok) unsent.delete(key)
        else if (!unsent.has(key) && unsent.size < MAX_UNSENT) unsent.set(key, now)
      }
    }
    return ok
  }
  const forgetOld = (): void => {
    const now = performance.now()
    for (const [key, failedAt] of unsent) {
      if (now - failedAt <= OVERTAKE_WINDOW_MS) break
      unsent.delete(key)
    }
  }
  const resend = (): void => {
    forgetOld()
    if (resending || closed || unsent.size === 0) return
    resending = true
    let taken = 0
    for (const key of unsent.keys()) {
      if (taken++ === MAX_KEYS_PER_MESSAGE) break
      batch.delete.add(key)
    }
    void flush(true).finally(() => {
      resending = false
    })
  }
  const sendBatch = async (): Promise<boolean> => {
    const sends: Array<Promise<boolean>> = []
    for (const kind of ['delete', 'set'] as const) {
      let keys: Array<string> = []
      let size = 0
      for (const key of batch[kind]) {
        if (keys.length === MAX_KEYS_PER_MESSAGE || (keys.length > 0 && size + key.length > MAX_MESSAGE_CHARS)) {
          sends.push(postKeys(kind, keys))
          keys = []
          size = 0
        }
        keys.push(key)
        size += key.length + 3
      }
      batch[kind].clear()
      if (keys.length > 0) sends.push(postKeys(kind, keys))
    }
    return (await Promise.all(sends)).every(Boolean)
  }
  const waitFor = (urgent: boolean): Promise<void> =>
    new Promise<void>((resolve) => {
      if (urgent) {
        setImmediate(resolve)
        return
      }
      const timer = setTimeout(done, SET_LINGER_MS)
      function done(): void {
        clearTimeout(timer)
        hurry = undefined
        setImmediate(resolve)
      }
      hurry = done
    })
  const flush = (urgent: boolean): Promise<boolean> => {
    if (urgent) hurry?.()
    next ??= (async () => {
      if (inFlight !== undefined) await inFlight
      await waitFor(urgent || batch.delete.size > 0)
      next = undefined
      const sending = sendBatch()
      inFlight = sending
      try {
        return await sending
      } finally {
        if (inFlight === sending) inFlight = undefined
      }
    })()
    return next
  }

  const publish: Bus['publish'] = (kind, key) => {
    if (closed) return Promise.resolve(false)
    // A key set and deleted before they went out: the delete says all the others need to know.
    if (kind === 'delete') {
      batch.set.delete(key)
      unsent.delete(key)
    } else if (batch.delete.has(key)) return flush(true)
    batch[kind].add(key)
    return flush(kind === 'delete')
  }

  const beat = (): void => {
    if (closed) return
    try {
      // Invalidations whose message failed go out again once publishing works: not into a bus that is away.
      void post({ v: FORMAT, origin: replicaId, seq: ++seq, kind: 'beat', keys: [] }).then((ok) => (ok ? resend() : forgetOld()))
      if (seen.lost(performance.now(), suspectAfterMs)) {
        counts.cleared++
        warn('lost', 'a message of another replica was lost; in-process tiers cleared')
        emit({ kind: 'clear' })
      }
      isTrusted()
      neverHeard()
    } catch (error) {
      // A timer's callback must never throw: the process would end.
      warn('beat', `heartbeat failed: ${CE.messageOf(error)}`)
    }
  }
  const timer = setInterval(beat, heartbeatMs)
  timer.unref()
  beat()

  // daprd closed a connection of ours: it stopped or restarted, and a daprd back within one
  // heartbeat would otherwise be noticed only when it asks for /dapr/subscribe. The heartbeats keep
  // a connection open, so its end is heard at once. Connections undici closes itself (idle ones, or
  // one that answered `Connection: close`) say nothing of daprd.
  const disconnected = (_origin: unknown, _targets: unknown, error: Error & { code?: unknown }): void => {
    if (closed || error.code === 'UND_ERR_INFO') return
    suspect('disconnect', `the connection to daprd closed (${error.message}); it may have stopped or restarted`)
  }
  pool.on('disconnect', disconnected)

  const deliver = (message: Message): void => {
    if (message.origin === replicaId) {
      if (message.kind !== 'beat') return
      lastOwnBeat = performance.now()
      if (!trusted && message.seq >= needBeat) {
        trusted = true
        // The first time, the tier is empty: nothing to clear, nothing to count.
        if (everTrusted) {
          counts.cleared++
          emit({ kind: 'clear' })
        }
        everTrusted = true
      }
      return
    }
    if (!seen.arrived(message, performance.now()) || message.kind === 'beat') return
    counts.received++
    emit({ kind: message.kind, keys: message.keys })
  }

  const answer = (response: ServerResponse, status: number, body: unknown): void => {
    response.writeHead(status, { 'content-type': 'application/json' })
    response.end(JSON.stringify(body))
  }

  const subscription = { pubsubname: pubsubName, topic, route: BACKPLANE_ROUTE }
  const handler: Backplane['handler'] = (request, response) => {
    const url = request.url ?? ''
    const pathname = url.split('?')[0]
    const ours = (request.method === 'GET' && pathname === '/dapr/subscribe') || (request.method === 'POST' && pathname === BACKPLANE_ROUTE)
    if (ours && appApiToken !== undefined && request.headers['dapr-api-token'] !== appApiToken) {
      // Not daprd: nothing it says is heard.
      warn('token', 'a request without the app API token was refused')
      answer(response, 401, { error: 'the dapr-api-token of APP_API_TOKEN is required' })
      request.resume()
      return true
    }
    if (request.method === 'GET' && pathname === '/dapr/subscribe') {
      // daprd asks when it starts: when it did again, it was away, and messages may have been missed.
      suspect('subscribed', 'daprd subscribed anew (it started or restarted)')
      answer(response, 200, [subscription])
      return true
    }
    if (request.method !== 'POST' || pathname !== BACKPLANE_ROUTE) return false
    const chunks: Array<Buffer> = []
    let size = 0
    let tooLarge = false
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_EVENT_BYTES) tooLarge = true
      else chunks.push(chunk)
    })
    request.on('error', () => undefined)
    request.on('end', () => {
      const read = tooLarge ? E.left({ reason: 'malformed' as const, detail: `an event of more than ${MAX_EVENT_BYTES} bytes` }) : readMessage(Buffer.concat(chunks).toString('utf8'))
      if (E.isLeft(read)) {
        counts.ignored++
        if (read.left.reason === 'newer') {
          // A replica of a newer release: what it changed is unknown here, so nothing here is trusted.
          warn('newer', `a message of format ${read.left.version} (this release reads ${FORMAT}) was ignored; in-process tiers cleared`)
          counts.cleared++
          emit({ kind: 'clear' })
        } else warn('malformed', `a malformed message on ${pubsubName}/${topic} was ignored (${read.left.detail})`)
        // DROP: Dapr does not deliver it again.
        answer(response, 200, { status: 'DROP' })
        return
      }
      deliver(read.right)
      answer(response, 200, { status: 'SUCCESS' })
    })
    return true
  }

  let server: Server | undefined
  const listen: Backplane['listen'] = (at, host = decoded.host ?? '127.0.0.1') =>
    new Promise((resolve, reject) => {
      if (server !== undefined || closed) {
        reject(new Error(closed ? 'backplane: listen after close' : 'backplane: already listening (one server per backplane)'))
        return
      }
      const created = createServer((request, response) => {
        if (!handler(request, response)) answer(response, 404, { error: 'not a route of the dapr-state-cache backplane' })
      })
      created.keepAliveTimeout = 65_000
      created.once('error', (error) => {
        if (server === created) server = undefined
        reject(error)
      })
      server = created
      created.listen(at, host, () => {
        const address = created.address()
        resolve(typeof address === 'object' && address !== null ? address.port : at)
      })
    })
  if (listenPort !== undefined) {
    listen(listenPort).catch((error: unknown) => warn('listen', `could not listen on port ${listenPort}: ${CE.messageOf(error)}; no message can be received`))
  }

  return {
    replicaId,
    pubsubName,
    topic,
    subscription,
    publish,
    subscribe: (listener) => {
      listeners.add(listener)
      return () => {
        listeners.delete(listener)
      }
    },
    trusted: isTrusted,
    echo: emit,
    handler,
    listen,
    stats: () => ({ ...counts, trusted: isTrusted() }),
    close: async () => {
      if (closed) return
      clearInterval(timer)
      // Changes already asked for go out first.
      hurry?.()
      await next
      closed = true
      trusted = false
      pool.off('disconnect', disconnected)
      await Promise.all([
        release(),
        new Promise<void>((resolve) => {
          if (server === undefined) resolve()
          else {
            server.close(() => resolve())
            server.closeAllConnections()
          }
        }),
      ])
    },
  }
}

/** Whether `u` looks like a backplane (for `withBackplane` and `cacheable`). */
export const backplaneCodec = busCodec

let shared: Backplane | undefined

/**
 * The process's own backplane, made with the defaults on first use (what `backplane: true` means).
 *
 * @category constructors
 * @since 0.5.0
 */
export const defaultBackplane = (): Backplane => {
  shared ??= backplane()
  return shared
}

// -------------------------------------------------------------------------------------
// combinators
// -------------------------------------------------------------------------------------

/**
 * Tells the other replicas of every write and invalidation of this function, and hears theirs: the
 * in-process tier drops what another replica changed, and a load under way here of a key another
 * replica invalidated neither stores its value nor hands it to callers who come later. `true`: the
 * process's default backplane (`defaultBackplane()`).
 *
 * @category combinators
 * @since 0.5.0
 */
export const withBackplane = (bus: true | Bus = true): Step => {
  const chosen = bus === true ? defaultBackplane() : checkOption('backplane', backplaneCodec, bus)
  return step('withBackplane', () => ({ backplane: chosen }))
}
