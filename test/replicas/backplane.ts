/**
 * The backplane across real replica processes, each with its own sidecar delivering to the
 * replica's backplane endpoint (daprd's `--app-port`): run on test sidecars (test/replicas.test.ts)
 * and on real daprds over one Redis with `pubsub.redis` (test/dapr/replicas.test.ts), where the
 * faults (Redis killed and restarted, one daprd killed and restarted) are run too.
 *
 * Every replica holds the value in its in-process tier for a minute; the checks are that the other
 * replicas serve the new state once a change on one is done (and never the old one afterwards).
 */
import type { Server } from 'node:http'
import { createServer } from 'node:http'
import { defaultKeyBuilder } from '../../src/Key.js'
import { freePorts } from '../../src/testing/daprd/processes.js'
import type { Replica } from './harness.js'
import { startReplicas } from './harness.js'

export interface BackplaneTopology {
  /** Starts the sidecar of replica `index` on `httpPort`, delivering to the app on `appPort`. */
  readonly start: (index: number, httpPort: number, appPort: number) => Promise<void>
  /** Deletes a value key in the store behind every replica's back (as an expiry would). */
  readonly forget: (key: string) => Promise<void>
  /** Stops every sidecar started. */
  readonly stop: () => Promise<void>
  /** Faults, where the topology has them: the shared Redis, one replica's daprd. */
  readonly faults?: {
    readonly stopRedis: () => Promise<void>
    readonly startRedis: () => Promise<void>
    readonly killSidecar: (index: number) => Promise<void>
    readonly restartSidecar: (index: number) => Promise<void>
  }
}

const NAME = 'replicas.value'
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** The source every computation reads: an HTTP server whose body is its version. */
const startSource = async (): Promise<{ url: string; set: (version: number) => void; close: () => Promise<void> }> => {
  let version = 1
  const server: Server = createServer((_request, response) => response.end(String(version)))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  const port = typeof address === 'object' && address !== null ? address.port : 0
  return {
    url: `http://127.0.0.1:${port}/`,
    set: (next) => {
      version = next
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

type Versioned = { readonly version?: number }

/** Calls `replica` until it answers `version`, or fails after `ms`: how long the change took to reach it. */
const until = async (replica: Replica, id: number, version: number, ms: number): Promise<number> => {
  const started = Date.now()
  for (;;) {
    const { values } = await replica.call(id)
    if ((values[0] as Versioned | undefined)?.version === version) return Date.now() - started
    if (Date.now() - started > ms) throw new Error(`replica ${replica.pid} still answers version ${String((values[0] as Versioned | undefined)?.version)} after ${ms} ms, not ${version}`)
    await sleep(20)
  }
}

/** Waits until each of `replicas` has heard at least `count` changes of other replicas. */
const heard = async (replicas: ReadonlyArray<Replica>, count: number): Promise<void> => {
  const deadline = Date.now() + 5000
  while (!(await Promise.all(replicas.map((replica) => replica.stats()))).every((stats) => (stats.bus?.received ?? 0) >= count)) {
    if (Date.now() > deadline) throw new Error(`the replicas did not hear ${count} changes within 5 s`)
    await sleep(10)
  }
}

/** Reads `id` on each replica until its tier serves `version` (an in-process hit), or fails after 5 s. */
const tiersHold = async (replicas: ReadonlyArray<Replica>, id: number, version: number): Promise<void> => {
  for (const replica of replicas) {
    const deadline = Date.now() + 5000
    for (;;) {
      const before = (await replica.stats()).stats.l1Hits
      const got = ((await replica.call(id)).values[0] as Versioned | undefined)?.version
      if (got === version && (await replica.stats()).stats.l1Hits > before) break
      if (Date.now() > deadline) throw new Error(`replica ${replica.pid}: its tier did not serve version ${version} within 5 s (got ${String(got)})`)
      await sleep(50)
    }
  }
}

/** The version each replica answers for `id` now. */
const versions = async (replicas: ReadonlyArray<Replica>, id: number): Promise<ReadonlyArray<number | undefined>> =>
  Promise.all(replicas.map(async (replica) => ((await replica.call(id)).values[0] as Versioned | undefined)?.version))

/** The scenarios; the fault scenario runs where the topology has faults (`withFaults`). */
export const describeBackplaneScenarios = (label: string, topology: () => BackplaneTopology, withFaults = false): void => {
  describe(`the backplane across replica processes: ${label}`, () => {
    const heartbeatMs = 200
    const suspectAfterMs = 1000
    let source: Awaited<ReturnType<typeof startSource>>
    let replicas: ReadonlyArray<Replica> = []
    let closeReplicas: () => Promise<void> = async () => undefined

    beforeAll(async () => {
      source = await startSource()
      const ports = await freePorts(6)
      const configs = [0, 1, 2].map((index) => ({
        daprUrl: `http://127.0.0.1:${ports[index * 2] ?? 0}`,
        name: NAME,
        l1: { ttlSeconds: 60 },
        ttlSeconds: 600,
        source: source.url,
        backplane: { listen: ports[index * 2 + 1] ?? 0, heartbeatMs, suspectAfterMs },
        tags: true,
      }))
      const started = await startReplicas(configs)
      replicas = started.replicas
      closeReplicas = started.close
      for (const index of [0, 1, 2]) await topology().start(index, ports[index * 2] ?? 0, ports[index * 2 + 1] ?? 0)
      // Every replica hears its own heartbeat: the bus works end to end.
      const deadline = Date.now() + 20_000
      while (!(await Promise.all(replicas.map((replica) => replica.stats()))).every((stats) => stats.bus?.trusted === true)) {
        if (Date.now() > deadline) throw new Error('the replicas did not hear their own heartbeats within 20 s')
        await sleep(50)
      }
    }, 60_000)

    afterAll(async () => {
      await closeReplicas()
      await topology().stop()
      await source.close()
    })

    it('an invalidate, a new value and a tag invalidation on one replica reach the tiers of the other two', async () => {
      const [a, b, c] = replicas as [Replica, Replica, Replica]
      source.set(1)
      // A computes and writes; once B and C heard of that write, they read it and keep it.
      expect(await versions([a], 1)).toEqual([1])
      await heard([b, c], 1)
      expect(await versions(replicas, 1)).toEqual([1, 1, 1])
      // Each tier now holds version 1 for a minute.
      source.set(2)
      expect(await versions(replicas, 1)).toEqual([1, 1, 1])
      await a.invalidate(1)
      await until(b, 1, 2, 3000)
      await until(c, 1, 2, 3000)
      expect(await versions(replicas, 1)).toEqual([2, 2, 2])

      // A new value: the entry leaves the store behind every tier's back; A computes and writes it.
      await topology().forget(defaultKeyBuilder().buildKey(NAME, [1]))
      source.set(3)
      expect(await versions([a], 1)).toEqual([3])
      await until(b, 1, 3, 3000)
      await until(c, 1, 3, 3000)
      const stats = await Promise.all(replicas.map((replica) => replica.stats()))
      // A tag invalidation on A: every entry carrying it leaves the store and every tier.
      await sleep(1200) // past the second in which tiers keep nothing of a key just invalidated
      await tiersHold([b, c], 1, 3)
      source.set(4)
      expect((await a.invalidateTag('all')).deleted).toBeGreaterThanOrEqual(1)
      await until(b, 1, 4, 3000)
      await until(c, 1, 4, 3000)
      expect(await versions(replicas, 1)).toEqual([4, 4, 4])
      // B and C heard A's changes; every replica served from its tier in between.
      expect(stats.map((s, index) => index === 0 || (s.bus?.received ?? 0) > 0)).toEqual([true, true, true])
      expect(stats.map((s) => s.stats.l1Hits > 0)).toEqual([true, true, true])
    }, 30_000)

    // The test sidecar's bus cannot fail this way; its own faults are in test/Backplane.test.ts.
    if (!withFaults) return
    it('after Redis and one daprd are killed and restarted, no replica serves an invalidated value', async () => {
      const faults = topology().faults
      if (faults === undefined) throw new Error(`${label}: no faults to run`)
      const [a, b, c] = replicas as [Replica, Replica, Replica]
      source.set(10)
      await a.invalidate(2)
      expect(await versions(replicas, 2)).toEqual([10, 10, 10])
      // Past the second after an invalidation in which tiers keep nothing of the key: every tier holds it.
      await sleep(1200)
      await tiersHold(replicas, 2, 10)

      // Redis away: the store and the bus with it. A change now cannot be published.
      await faults.stopRedis()
      source.set(11)
      await a.invalidate(2).catch(() => undefined)
      // Within the suspect time every replica stops trusting its tier and reads (fails, computes) anew.
      await sleep(suspectAfterMs + 2 * heartbeatMs)
      expect(await versions(replicas, 2)).toEqual([11, 11, 11])
      await faults.startRedis()
      await until(b, 2, 11, 15_000)
      expect(await versions(replicas, 2)).toEqual([11, 11, 11])

      // One daprd away, and back as soon as it can: C hears nothing while A invalidates. C learns of
      // it at once, from the connection that closed when daprd died (not only from a heartbeat that
      // fails, or from daprd asking for /dapr/subscribe when it is back: test/Backplane.test.ts
      // holds the case where neither happens).
      await sleep(1200)
      await tiersHold([c], 2, 11)
      await faults.killSidecar(2)
      source.set(12)
      await a.invalidate(2)
      await faults.restartSidecar(2)
      // From now on C never answers 11.
      const deadline = Date.now() + 5000
      while (Date.now() < deadline) {
        expect(await versions([c], 2)).toEqual([12])
        await sleep(50)
      }
      expect(await versions(replicas, 2)).toEqual([12, 12, 12])
    }, 90_000)
  })
}
