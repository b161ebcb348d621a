/**
 * The multi-process scenarios, run by test/replicas.test.ts (replicas sharing a test sidecar of each
 * flavour) and by test/dapr/replicas.test.ts (each replica with its own real daprd, all on one Redis):
 * the stampede across replicas, a lease holder killed mid-computation, invalidation during a remote
 * computation, refresh ahead done once across replicas, and the in-process tier's staleness bounded
 * by its TTL.
 */
import { defaultKeyBuilder } from '../../src/Key.js'
import { msgpackSerializer } from '../../src/Serializer.js'
import type { Value } from './harness.js'
import { startReplicas } from './harness.js'

export interface Topology {
  /** The sidecar address of replica `index` (the same one for all, or one each). */
  readonly url: (index: number) => string
  /** The stored JSON text of a value key, as a client reading the store would get it. */
  readonly stored: (key: string) => Promise<string | undefined>
  /**
   * The component keeps an expired entry until its cleanup, and a first-write still conflicts with
   * it (`state.mongodb`): a dead holder's lease is not free when its TTL ends, so the waiters each
   * compute once `maxWaitMs` has passed (unless the cleanup runs first). Safe (every caller
   * answered, none failed, none later than maxWaitMs plus a computation), not single.
   */
  readonly expiredLeaseBlocks?: boolean | undefined
}

const NAME = 'replicas.value'
const keyOf = (id: number): string => defaultKeyBuilder().buildKey(NAME, [id])
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const serializer = msgpackSerializer()
const decode = (json: string): Value => serializer.deserialize(Buffer.from(JSON.parse(json) as string, 'base64')) as Value

export const describeReplicaScenarios = (label: string, topology: () => Topology): void => {
  describe(`replicas as processes: ${label}`, () => {
    it('6 replicas x 50 concurrent callers on one cold key, a 300 ms function: exactly one computation', async () => {
      const { url } = topology()
      const { replicas, close } = await startReplicas(Array.from({ length: 6 }, (_, index) => ({ daprUrl: url(index), lease: { pollMs: 10, maxPollMs: 50 } })))
      try {
        const answers = await Promise.all(replicas.map((replica) => replica.call(1, 50, 300)))
        const stats = await Promise.all(replicas.map((replica) => replica.stats()))
        expect(stats.reduce((sum, one) => sum + one.computations, 0)).toBe(1)
        const values = answers.flatMap((answer) => answer.values)
        expect(values).toHaveLength(300)
        expect(new Set(values.map((value) => JSON.stringify(value))).size).toBe(1)
        expect(stats.map((one) => one.pending)).toEqual([0, 0, 0, 0, 0, 0])
        const last = Math.max(...answers.flatMap((answer) => answer.ms))
        process.stdout.write(`${label}: stampede of 300 callers in 6 processes: 1 computation, last caller after ${last} ms (function 300 ms)\n`)
      } finally {
        await close()
      }
    })

    it('a lease holder killed mid-computation: another replica computes after the lease expires, within maxWaitMs plus one function time', async () => {
      const { url } = topology()
      const lease = { leaseSeconds: 1, maxWaitMs: 4_000, pollMs: 10, maxPollMs: 50 }
      const { replicas, close } = await startReplicas(Array.from({ length: 4 }, (_, index) => ({ daprUrl: url(index), lease })))
      try {
        const [holder, ...others] = replicas as [(typeof replicas)[number], ...typeof replicas]
        const held = holder.call(2, 1, 60_000).catch(() => undefined) // takes the lease, then dies
        await sleep(200)
        holder.kill()
        await held
        const started = Date.now()
        const answers = await Promise.all(others.map((replica) => replica.call(2, 20, 200)))
        const waited = Date.now() - started
        const stats = await Promise.all(others.map((replica) => replica.stats()))
        const computations = stats.reduce((sum, one) => sum + one.computations, 0)
        if (topology().expiredLeaseBlocks === true) {
          // Each waiter gave up on the lease after maxWaitMs and computed once on its own (or, when
          // the component's cleanup removed the dead lease meanwhile, one of them took it): every
          // caller answered, by a computation of its own replica or the one before it.
          expect(computations).toBeGreaterThanOrEqual(1)
          expect(answers.flatMap((answer) => answer.values)).toHaveLength(others.length * 20)
        } else {
          expect(computations).toBe(1)
          expect(new Set(answers.flatMap((answer) => answer.values).map((value) => JSON.stringify(value))).size).toBe(1)
        }
        expect(Math.max(...answers.flatMap((answer) => answer.ms))).toBeLessThan(lease.maxWaitMs + 200 + 1_000)
        expect(stats.map((one) => one.pending)).toEqual([0, 0, 0])
        process.stdout.write(`${label}: holder killed; the others had the value after ${waited} ms (lease 1 s, function 200 ms)\n`)
      } finally {
        await close()
      }
    })

    it('replica A invalidates while replica B computes: the store keeps nothing B computed before the invalidation', async () => {
      const { url, stored } = topology()
      const { replicas, close } = await startReplicas([0, 1].map((index) => ({ daprUrl: url(index), lease: { pollMs: 10, maxPollMs: 50 } })))
      const [a, b] = replicas as [(typeof replicas)[number], (typeof replicas)[number]]
      try {
        const before = (await b.stats()).computations
        for (let round = 0; round < 10; round++) {
          const id = 1_000 + round
          const computing = b.call(id, 5, 50 + Math.floor(Math.random() * 100))
          await sleep(Math.floor(Math.random() * 120))
          const invalidateStartedAt = Date.now()
          await a.invalidate(id)
          await computing
          const left = await stored(keyOf(id))
          if (left !== undefined) expect(decode(left).startedAt).toBeGreaterThanOrEqual(invalidateStartedAt)
        }
        // B computes once a round, and once more in each round whose invalidation overtook its
        // computation (its value then goes to nobody): the scenario did overlap, more than once.
        const overtaken = (await b.stats()).computations - before - 10
        expect(overtaken).toBeGreaterThan(1)
      } finally {
        await close()
      }
    })

    it('refresh ahead on 6 replicas with a lease: a hot key past half its TTL is refreshed once, not once per replica', async () => {
      const { url } = topology()
      const config = (index: number) => ({ daprUrl: url(index), lease: { pollMs: 10, maxPollMs: 50 }, refreshAhead: { threshold: 0.5 }, ttlSeconds: 6 })
      const { replicas, close } = await startReplicas(Array.from({ length: 6 }, (_, index) => config(index)))
      try {
        const first = (await (replicas[0] as (typeof replicas)[number]).call(4, 1, 0)).values[0]
        await sleep(3_100) // past half its TTL: the next hits start refreshes
        const answers = await Promise.all(replicas.map((replica) => replica.call(4, 10, 1_000)))
        // Every caller got the cached value without waiting for the function (1 s); the refresh runs behind them.
        expect(new Set(answers.flatMap((answer) => answer.values).map((value) => JSON.stringify(value)))).toEqual(new Set([JSON.stringify(first)]))
        expect(Math.max(...answers.flatMap((answer) => answer.ms))).toBeLessThan(800)
        let stats = await Promise.all(replicas.map((replica) => replica.stats()))
        for (let i = 0; i < 150 && stats.some((one) => one.pending > 0); i++) {
          await sleep(20)
          stats = await Promise.all(replicas.map((replica) => replica.stats()))
        }
        expect(stats.map((one) => one.pending)).toEqual([0, 0, 0, 0, 0, 0])
        expect(stats.reduce((sum, one) => sum + one.computations, 0)).toBe(2) // the first, and one refresh
        const refreshed = (await (replicas[5] as (typeof replicas)[number]).call(4, 1, 0)).values[0]
        expect(refreshed).not.toEqual(first)
      } finally {
        await close()
      }
    })

    it("the in-process tier serves a value another replica invalidated for at most its ttlSeconds", async () => {
      const { url } = topology()
      const { replicas, close } = await startReplicas([
        // Three seconds of tier: the stale read below must come within it, on a loaded machine too.
        { daprUrl: url(0), l1: { ttlSeconds: 3 }, lease: true },
        { daprUrl: url(1), lease: true },
      ])
      const [reader, writer] = replicas as [(typeof replicas)[number], (typeof replicas)[number]]
      try {
        const first = (await writer.call(3)).values[0]
        expect((await reader.call(3)).values[0]).toEqual(first) // from the store, now in the reader's tier
        // Taken once the reader answered: its tier was filled before that, so 3.1 s from here is past its TTL.
        const filledAt = Date.now()
        await writer.invalidate(3)
        const second = (await writer.call(3)).values[0]
        expect(second).not.toEqual(first)
        expect((await reader.call(3)).values[0]).toEqual(first) // stale, from memory, within the tier's 3 s
        await sleep(Math.max(0, 3_100 - (Date.now() - filledAt)))
        expect((await reader.call(3)).values[0]).toEqual(second)
        const { stats } = await reader.stats()
        expect(stats.l1Hits).toBeGreaterThanOrEqual(1)
      } finally {
        await close()
      }
    })
  })
}
