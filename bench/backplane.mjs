// Section 13 of `npm run bench`: the backplane on real daprd with pubsub.redis. Three replicas, each
// a backplane and a Dapr store to its own daprd (one Redis for all), in this one process: how long
// from `invalidate` resolving on one replica until the last of the other two has heard it (its
// in-process entry dropped), and what the backplane costs a write (a miss computed and written),
// interleaved against the same function without it, on the same daprds.
import { backplane, cacheable, daprStore, defaultKeyBuilder } from 'dapr-state-cache'
import { startDaprd } from 'dapr-state-cache/testing'
import { freePort, interleaved, median, percentile, quick } from './lib.mjs'

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export const backplaneBench = async () => {
  const nodes = []
  let redisHost
  try {
    for (let i = 0; i < 3; i++) {
      const httpPort = await freePort()
      const bus = backplane({ daprUrl: `http://127.0.0.1:${httpPort}`, heartbeatMs: 500, logger: { warn: () => undefined } })
      const appPort = await bus.listen(0)
      const daprd = await startDaprd({ flavour: 'redis', httpPort, appPort, ...(redisHost === undefined ? {} : { redisHost }) })
      redisHost ??= daprd.redis?.host
      nodes.push({ bus, daprd, store: daprStore({ daprUrl: daprd.url, env: {} }) })
    }
    const deadline = Date.now() + 30_000
    while (!nodes.every((node) => node.bus.trusted())) {
      if (Date.now() > deadline) throw new Error('the backplanes did not hear their own heartbeats within 30 s')
      await sleep(50)
    }

    // Propagation: replica 0 invalidates; when did replicas 1 and 2 hear the delete?
    const heard = nodes.map(() => new Map())
    nodes.forEach((node, index) =>
      node.bus.subscribe((event) => {
        if (event.kind === 'delete') for (const key of event.keys) heard[index].set(key, performance.now())
      }),
    )
    const fns = nodes.map((node) => cacheable({ store: node.store, name: 'bench.backplane', ttlSeconds: 600, l1: { ttlSeconds: 600 }, backplane: node.bus })(async (id) => ({ id })))
    const rounds = quick ? 30 : 300
    const keys = defaultKeyBuilder()
    const delays = []
    const invalidations = []
    let missed = 0
    for (let round = 0; round < rounds; round++) {
      for (const fn of fns) await fn(round)
      const key = keys.buildKey('bench.backplane', [round])
      const called = performance.now()
      await fns[0].invalidate(round)
      const resolved = performance.now()
      invalidations.push(resolved - called)
      const wait = Date.now() + 2000
      while (!(heard[1].has(key) && heard[2].has(key)) && Date.now() < wait) await sleep(1)
      if (heard[1].has(key) && heard[2].has(key)) delays.push(Math.max(0, Math.max(heard[1].get(key), heard[2].get(key)) - resolved))
      else missed++
      for (const map of heard) map.clear()
      await sleep(5)
    }
    delays.sort((a, b) => a - b)
    const propagation = { rounds, missed, p50: percentile(delays, 0.5), p99: percentile(delays, 0.99), max: delays[delays.length - 1], invalidateMs: median(invalidations) }

    // Cost on a write: a miss computed and written, with and without the backplane, interleaved. The
    // other replicas' daprds and backplanes are stopped first: in production they run elsewhere, and
    // what a write costs its own replica is the publish and the delivery of its message back to it.
    for (const node of nodes.slice(1)) {
      await node.daprd.close()
      await node.bus.close()
    }
    const publishedBefore = nodes[0].bus.stats().published
    const plain = cacheable({ store: nodes[0].store, name: 'bench.plain', ttlSeconds: 600, l1: true })(async (id) => ({ id }))
    const withBus = cacheable({ store: nodes[0].store, name: 'bench.bus', ttlSeconds: 600, l1: true, backplane: nodes[0].bus })(async (id) => ({ id }))
    const reps = quick ? 3 : 7
    const perCall = quick ? 200 : 1000
    let next = 0
    const samples = await interleaved([{ name: 'plain', fn: plain }, { name: 'bus', fn: withBus }], reps, async ({ fn }) => {
      const started = performance.now()
      for (let i = 0; i < perCall; i++) await fn(`miss-${next++}`)
      return ((performance.now() - started) * 1000) / perCall
    })
    const cost = { plainUs: median(samples.get('plain')), busUs: median(samples.get('bus')) }
    return { propagation, cost, writes: next / 2, messages: nodes[0].bus.stats().published - publishedBefore }
  } finally {
    for (const node of nodes) {
      await node.store.close()
      await node.bus.close()
    }
    for (const node of nodes.slice(1)) await node.daprd.close() // idempotent
    await nodes[0]?.daprd.close()
  }
}
