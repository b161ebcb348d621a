/**
 * Real replica processes for multi-process tests: each a Node child (test/replicas/replica.js) with
 * its own `daprStore`, steered over IPC, bounded in time (every request has a deadline) and killed
 * by `close()`, also when a test fails.
 */
import type { ChildProcess } from 'node:child_process'
import { fork } from 'node:child_process'
import path from 'node:path'
import type { L1Options, LeaseOptions, RefreshAheadOptions } from '../../src/index.js'

export interface ReplicaConfig {
  readonly daprUrl: string
  readonly name?: string | undefined
  readonly lease?: true | Omit<LeaseOptions, 'logger'> | undefined
  readonly l1?: true | Omit<L1Options, 'clock'> | undefined
  readonly refreshAhead?: true | RefreshAheadOptions | undefined
  readonly ttlSeconds?: number | undefined
  readonly generations?: boolean | undefined
  /** Values carry the tags `item:<id>` and `all`. */
  readonly tags?: boolean | undefined
  /** The replica's backplane: it listens on `listen` for its sidecar's deliveries. */
  readonly backplane?: { readonly listen: number; readonly heartbeatMs?: number; readonly suspectAfterMs?: number } | undefined
  /** A URL whose body is the source's version, read by each computation. */
  readonly source?: string | undefined
}

export interface Value {
  readonly id: number
  readonly by: number
  readonly computation: number
  readonly startedAt: number
}

export interface Replica {
  readonly pid: number
  /** `callers` concurrent calls for `id` (the function takes `fnMs`): each value, and when each came back (ms after the start). */
  readonly call: (id: number, callers?: number, fnMs?: number) => Promise<{ values: ReadonlyArray<Value>; ms: ReadonlyArray<number> }>
  readonly invalidate: (id: number) => Promise<void>
  /** Invalidates a tag (the replica's values carry `item:<id>` and `all` with `tags: true`): how many keys it deleted. */
  readonly invalidateTag: (tag: string) => Promise<{ deleted?: number; error?: string }>
  readonly stats: () => Promise<{
    computations: number
    pending: number
    stats: { hits: number; l1Hits: number; misses: number }
    bus?: { published: number; publishFailures: number; received: number; ignored: number; cleared: number; trusted: boolean } | undefined
  }>
  readonly kill: () => void
  readonly exited: () => boolean
}

const REQUEST_DEADLINE_MS = 30_000

const start = (config: ReplicaConfig): Promise<{ replica: Replica; child: ChildProcess }> =>
  new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'replica.js'), [], {
      env: { ...process.env, REPLICA_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    let next = 0
    const waiting = new Map<number, { resolve: (body: unknown) => void; reject: (error: Error) => void; timer: NodeJS.Timeout }>()
    let exited = false
    child.on('exit', (code, signal) => {
      exited = true
      for (const pending of waiting.values()) {
        clearTimeout(pending.timer)
        pending.reject(new Error(`replica ${child.pid} exited (${code ?? signal}) with a request pending`))
      }
      waiting.clear()
      reject(new Error(`replica exited before it was ready (${code ?? signal})`))
    })
    const ask = <T>(message: Record<string, unknown>): Promise<T> =>
      new Promise<T>((ok, ko) => {
        const requestId = ++next
        const timer = setTimeout(() => {
          waiting.delete(requestId)
          ko(new Error(`replica ${child.pid}: no answer to ${String(message['type'])} within ${REQUEST_DEADLINE_MS} ms`))
        }, REQUEST_DEADLINE_MS)
        waiting.set(requestId, { resolve: (body) => ok(body as T), reject: ko, timer })
        child.send({ ...message, requestId })
      })
    child.on('message', (message: { type: string; requestId?: number }) => {
      if (message.type === 'ready') {
        resolve({
          child,
          replica: {
            pid: child.pid ?? -1,
            call: (id, callers = 1, fnMs = 0) => ask({ type: 'call', id, callers, fnMs }),
            invalidate: async (id) => {
              await ask({ type: 'invalidate', id })
            },
            invalidateTag: (tag) => ask({ type: 'invalidateTag', tag }),
            stats: () => ask({ type: 'stats' }),
            kill: () => {
              child.kill('SIGKILL')
            },
            exited: () => exited,
          },
        })
        return
      }
      const pending = message.requestId === undefined ? undefined : waiting.get(message.requestId)
      if (pending !== undefined && message.requestId !== undefined) {
        waiting.delete(message.requestId)
        clearTimeout(pending.timer)
        pending.resolve(message)
      }
    })
  })

/** Starts one replica per config, in parallel; `close()` kills every one of them. */
export const startReplicas = async (configs: ReadonlyArray<ReplicaConfig>): Promise<{ replicas: ReadonlyArray<Replica>; close: () => Promise<void> }> => {
  const started = await Promise.allSettled(configs.map(start))
  const children = started.flatMap((result) => (result.status === 'fulfilled' ? [result.value.child] : []))
  const close = async (): Promise<void> => {
    await Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve()
            child.once('exit', () => resolve())
            child.kill('SIGKILL')
          }),
      ),
    )
  }
  const failed = started.find((result) => result.status === 'rejected')
  if (failed !== undefined) {
    await close()
    throw (failed).reason
  }
  return { replicas: started.map((result) => (result as PromiseFulfilledResult<{ replica: Replica }>).value.replica), close }
}
