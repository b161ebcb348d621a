/**
 * The `DaprStore`'s HTTP plumbing, with undici: one keep-alive pool per sidecar address, shared by
 * the stores using it and closed with the last of them, and requests with their own deadline, an
 * answer read only up to its bound, and refused, reset or late connections as typed errors.
 */
import * as E from 'fp-ts/lib/Either.js'
import type { Dispatcher } from 'undici'
import { Pool } from 'undici'
import type { CacheError } from '../../CacheError.js'
import * as CE from '../../CacheError.js'

// -------------------------------------------------------------------------------------
// shared pools
// -------------------------------------------------------------------------------------

interface SharedPool {
  readonly pool: Pool
  users: number
}

// One pool per sidecar address, size and user kind, shared by the users of that kind. Empty until a store is made.
const pools = new Map<string, SharedPool>()

/**
 * The pool for `origin` of `connections`, shared with the other users of the same `kind`: the
 * backplane keeps pools of its own, so that what happens to a store's connections (a reset read)
 * is never taken for daprd going away.
 */
export const acquire = (origin: string, connections: number, connectTimeoutMs: number, kind: 'store' | 'backplane' = 'store'): { pool: Pool; release: () => Promise<void> } => {
  const id = `${kind}:${origin}#${connections}`
  let shared = pools.get(id)
  if (shared === undefined || shared.pool.closed || shared.pool.destroyed) {
    shared = {
      pool: new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, connect: { timeout: connectTimeoutMs } }),
      users: 0,
    }
    pools.set(id, shared)
  }
  shared.users++
  const mine = shared
  let released = false
  return {
    pool: mine.pool,
    release: async () => {
      if (released) return
      released = true
      mine.users--
      if (mine.users === 0) {
        if (pools.get(id) === mine) pools.delete(id)
        await mine.pool.close()
      }
    },
  }
}

// -------------------------------------------------------------------------------------
// requests
// -------------------------------------------------------------------------------------

export const MIB = 1024 * 1024

/** How much of an answer is read, and what an answer over that is. */
export interface AnswerLimit {
  readonly bytes: number
  readonly error: (knownBytes: number, status: number, key: string | undefined) => CacheError
}

/** Any other answer (204, a Dapr error, metadata) is small: over 1 MiB it is not read. */
const otherAnswers: AnswerLimit = {
  bytes: MIB,
  error: (known, status, key) => CE.storeRejected(status, `the sidecar answered with more than ${MIB} bytes (${known} known); not read`, { key }),
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_DESTROYED'])
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT'])

const failure = (cause: unknown, timedOut: boolean, timeoutMs: number, key: string | undefined, origin: string): CacheError => {
  const code = (cause as { code?: unknown } | null | undefined)?.code
  if (timedOut || (typeof code === 'string' && TIMEOUT_CODES.has(code))) {
    return CE.timeoutError(timeoutMs, `the sidecar at ${origin} did not answer within ${timeoutMs} ms`, { key, cause })
  }
  const reason = typeof code === 'string' && CONNECTION_CODES.has(code) ? code : CE.messageOf(cause)
  return CE.connectionError(`cannot reach the sidecar at ${origin}: ${reason}`, { key, cause })
}

/** An answer: its status, its body, and its ETag header when it has one. */
export interface Answered {
  readonly status: number
  readonly body: string
  readonly etag?: string | undefined
}

/** The requests of one store, to the sidecar at `origin` through `pool`. */
export const sender = (pool: Pool, origin: string) => {
  /**
   * One request with its own deadline (connect, send, answer and body together). It goes through
   * undici's dispatcher with a handler that gathers the body itself: no stream, no AbortController
   * per request, one timer. It never rejects.
   */
  const send = (
    request: Pick<Dispatcher.DispatchOptions, 'method' | 'path' | 'headers' | 'body'>,
    key: string | undefined,
    timeoutMs: number,
    limit: AnswerLimit = otherAnswers,
  ): Promise<E.Either<CacheError, Answered>> =>
    new Promise((resolve) => {
      let status = 0
      let etag: string | undefined
      let received = 0
      const chunks: Array<Buffer> = []
      /** Stops an answer over the limit: the connection is closed, not reused. */
      const tooLarge = (known: number, stop: Dispatcher.DispatchController): void => {
        // Settled first: aborting reports an error to this same handler, at once.
        settle(E.left(limit.error(known, status, key)))
        stop.abort(new Error(`answer over ${limit.bytes} bytes`))
      }
      let controller: Dispatcher.DispatchController | undefined
      let timedOut = false
      let settled = false
      const settle = (result: E.Either<CacheError, Answered>): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        resolve(result)
      }
      const timer = setTimeout(() => {
        timedOut = true
        controller?.abort(new Error(`no answer within ${timeoutMs} ms`))
        settle(E.left(failure(undefined, true, timeoutMs, key, origin)))
      }, timeoutMs)
      try {
        pool.dispatch(request, {
          onRequestStart: (started) => {
            controller = started
            if (timedOut) started.abort(new Error(`no answer within ${timeoutMs} ms`))
          },
          onResponseStart: (started, statusCode, responseHeaders) => {
            status = statusCode
            const header = responseHeaders['etag']
            etag = typeof header === 'string' ? header : undefined
            const announced = Number(responseHeaders['content-length'] ?? Number.NaN)
            if (announced > limit.bytes) tooLarge(announced, started)
          },
          onResponseData: (receiving, chunk) => {
            received += chunk.length
            if (received > limit.bytes) return tooLarge(received, receiving)
            chunks.push(chunk)
          },
          onResponseEnd: () => {
            settle(E.right({ status, etag, body: chunks.length === 1 ? (chunks[0] as Buffer).toString('utf8') : Buffer.concat(chunks).toString('utf8') }))
          },
          onResponseError: (_controller, cause) => {
            settle(E.left(failure(cause, timedOut, timeoutMs, key, origin)))
          },
        })
      } catch (cause) {
        settle(E.left(failure(cause, false, timeoutMs, key, origin)))
      }
    })

  return send
}
