// Section 15 of `npm run bench`: batched reads on real daprd with Redis. Concurrent callers, each
// reading distinct keys one after the other, through the Dapr store with and without batching, and
// the floor: undici to the same daprd, one GET per key. Hits (keys written first) and misses (keys
// never written). Then a lone caller: what batching adds to an isolated read. Then `many`: groups of
// 100 keys through a cached function, `fn.many` against 100 calls side by side and the floor (100
// GETs side by side, and for misses a save after each).
import { Pool } from 'undici'
import { cacheable, daprStore } from 'dapr-state-cache'
import { startDaprd } from 'dapr-state-cache/testing'
import { interleaved, load, median, quick, seedHits } from './lib.mjs'

const KEYS = 4096

export const batchingBench = async () => {
  const daprd = await startDaprd({ flavour: 'redis', pubsubs: [] })
  const plain = daprStore({ daprUrl: daprd.url, env: {}, connections: 64, batch: false })
  const batched = daprStore({ daprUrl: daprd.url, env: {}, connections: 64, batch: true })
  const pool = new Pool(daprd.url, { connections: 64, pipelining: 1 })
  try {
    await seedHits(plain, KEYS)
    const floor = async (key) => {
      const answer = await pool.request({ method: 'GET', path: `/v1.0/state/cache/${encodeURIComponent(key)}` })
      await answer.body.arrayBuffer()
    }
    const read = (store) => async (key) => {
      const got = await store.get(key)()
      if (got._tag === 'Left') throw new Error(got.left.message)
    }
    const contenders = [
      { name: 'floor', fn: floor },
      { name: 'unbatched', fn: read(plain) },
      { name: 'batched', fn: read(batched) },
    ]
    const ms = quick ? 300 : 1000
    const reps = quick ? 2 : 5
    const rows = []
    for (const kind of ['hit', 'miss']) {
      for (const concurrency of [16, 64, 256]) {
        // The ceiling of batching with this many keys outstanding: undici sending the same bulk reads
        // (`concurrency` keys, in requests of at most 100, all in flight), nothing else. It runs
        // interleaved with the others, so that all four see the same machine.
        const inFlight = Math.ceil(concurrency / 100)
        const size = Math.ceil(concurrency / inFlight)
        const bulk = async (i) => {
          const keys = Array.from({ length: size }, (_, j) => `${kind}:${(i * size + j) % KEYS}`)
          const answer = await pool.request({ method: 'POST', path: '/v1.0/state/cache/bulk', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ keys, parallelism: Math.min(size, 16) }) })
          await answer.body.text()
        }
        const withCeiling = [...contenders, { name: 'bulk ceiling', fn: bulk, concurrency: inFlight, keysPerCall: size }]
        const runs = await interleaved(withCeiling, reps, ({ fn, ...contender }) =>
          load((i) => fn(contender.keysPerCall === undefined ? `${kind}:${i % KEYS}` : i), { concurrency: contender.concurrency ?? concurrency, ms }),
        )
        const pick = (name, field) => median(runs.get(name).map((run) => run[field]))
        rows.push({
          kind,
          concurrency,
          ...Object.fromEntries(contenders.map(({ name }) => [name, { rps: pick(name, 'rps'), p99: pick(name, 'p99'), cpuUs: pick(name, 'cpuUs') }])),
          bulkCeiling: pick('bulk ceiling', 'rps') * size,
        })
      }
    }
    // A lone caller: sequential reads of one hit key.
    const lone = await interleaved(contenders.slice(1), reps, ({ fn }) => load(() => fn('hit:1'), { concurrency: 1, ms }))
    const many = await manyRows(pool, batched, ms, reps)
    const bySize = await sizeRows(daprd.url, pool, ms, reps)
    return { rows, lone: { unbatched: median(lone.get('unbatched').map((run) => run.p50)), batched: median(lone.get('batched').map((run) => run.p50)) }, many, bySize }
  } finally {
    await pool.close()
    await plain.close()
    await batched.close()
    await daprd.close()
  }
}

const GROUP = 100

/** Groups of 100 keys, one group after the other: the floor, 100 calls side by side, and `many`. */
const manyRows = async (pool, store, ms, reps) => {
  const row = { id: 1, name: 'a row of fifteen fields or so', tags: ['x', 'y'] }
  const body = JSON.stringify(Buffer.from(JSON.stringify(row)).toString('base64'))
  const fn = cacheable({ store, name: 'bench.many', ttlSeconds: 600 })(async (id) => ({ ...row, id }))
  for (let i = 0; i < KEYS; i += 256) await fn.many(Array.from({ length: 256 }, (_, j) => [`hit-${i + j}`]))
  let fresh = 0
  const ids = (kind, group) => Array.from({ length: GROUP }, (_, j) => (kind === 'hit' ? `hit-${(group * GROUP + j) % KEYS}` : `miss-${process.pid}-${fresh++}`))
  const get = async (key) => {
    const answer = await pool.request({ method: 'GET', path: `/v1.0/state/cache/${encodeURIComponent(key)}` })
    await answer.body.arrayBuffer()
    return answer.statusCode
  }
  const floorOne = (kind) => async (id) => {
    const key = `cache:bench.many:${id}`
    const status = await get(key)
    if (kind === 'miss' && status === 204) {
      const saved = await pool.request({ method: 'POST', path: '/v1.0/state/cache', headers: { 'content-type': 'application/json' }, body: `[{"key":${JSON.stringify(key)},"value":${body},"metadata":{"ttlInSeconds":"600"}}]` })
      await saved.body.arrayBuffer()
    }
  }
  const rows = []
  for (const kind of ['hit', 'miss']) {
    const contenders = [
      { name: 'floor', fn: (group) => Promise.all(ids(kind, group).map(floorOne(kind))) },
      { name: 'calls', fn: (group) => Promise.all(ids(kind, group).map((id) => fn(id))) },
      { name: 'many', fn: (group) => fn.many(ids(kind, group).map((id) => [id])) },
    ]
    const runs = await interleaved(contenders, reps, ({ fn: group }) => load(group, { concurrency: 1, ms }))
    const pick = (name, field) => median(runs.get(name).map((run) => run[field]))
    rows.push({ kind, ...Object.fromEntries(contenders.map(({ name }) => [name, { keysPerS: pick(name, 'rps') * GROUP, p50: pick(name, 'p50'), cpuUs: pick(name, 'cpuUs') / GROUP }])) })
  }
  return rows
}

/**
 * Hits of 16 callers against the size of the values: the floor, and the Dapr store without and with
 * batching (stores of their own per size, so that each learns its values' size as in a service).
 */
const sizeRows = async (url, pool, ms, reps) => {
  const rows = []
  for (const bytes of [200, 2000, 10_000, 50_000]) {
    const plain = daprStore({ daprUrl: url, env: {}, connections: 64, batch: false })
    const batched = daprStore({ daprUrl: url, env: {}, connections: 64 })
    try {
      const value = Buffer.alloc(bytes, 7)
      const keys = 1024
      for (let i = 0; i < keys; i += 128) await Promise.all(Array.from({ length: 128 }, (_, j) => plain.set(`size-${bytes}:${i + j}`, value, 3600)()))
      const floor = async (i) => {
        const answer = await pool.request({ method: 'GET', path: `/v1.0/state/cache/size-${bytes}:${i % keys}` })
        await answer.body.arrayBuffer()
      }
      const read = (store) => async (i) => {
        const got = await store.get(`size-${bytes}:${i % keys}`)()
        if (got._tag === 'Left') throw new Error(got.left.message)
      }
      const contenders = [
        { name: 'floor', fn: floor },
        { name: 'unbatched', fn: read(plain) },
        { name: 'batched', fn: read(batched) },
      ]
      const runs = await interleaved(contenders, reps, ({ fn }) => load(fn, { concurrency: 16, ms }))
      const pick = (name, field) => median(runs.get(name).map((run) => run[field]))
      rows.push({ bytes, ...Object.fromEntries(contenders.map(({ name }) => [name, { rps: pick(name, 'rps'), p99: pick(name, 'p99') }])) })
    } finally {
      await plain.close()
      await batched.close()
    }
  }
  return rows
}
