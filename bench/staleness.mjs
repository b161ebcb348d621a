// Section 12 of `npm run bench` (also `node bench/staleness.mjs [--quick]` after `npm run build`):
// how often a read issued after `invalidate` resolved still gets a value from before it, with
// replicas as separate processes on one test sidecar, per option combination. The source is a
// number served over HTTP by this process; it is bumped before each invalidation, as a service
// that writes its database and then invalidates does. Each round:
//
//   1. the key is invalidated (nothing changes in the source), so that the calls of step 2 miss;
//   2. every replica calls the function, which reads the source and then takes 0-40 ms: loads in
//      flight;
//   3. 0-30 ms later the source is bumped and the first replica invalidates the key (always the
//      same one, so that the others' in-process tiers are never invalidated here);
//   4. once that resolved, every replica reads the key: "right after";
//   5. once the loads of step 2 are done and 100 ms have passed, every replica reads it again:
//      "100 ms after", staleness that stays (in the store, or in a replica's tier).
//
// A round counts when a read got a version older than the bump: on the replica that invalidated, or
// on another one.
import { createServer } from 'node:http'
import { fileURLToPath } from 'node:url'
import { cacheable, daprStore } from 'dapr-state-cache'
import { startTestSidecar } from 'dapr-state-cache/testing'
import { freePort, interleaved, median, quick, replicaProcess, sidecarProcess, summary, table } from './lib.mjs'

const REPLICAS = 3

/** The combinations of the staleness table in docs/replicas.md. */
export const combinations = [
  { name: 'neither', options: {} },
  { name: 'generations', options: { generations: true } },
  { name: 'lease', options: { lease: { pollMs: 5, maxPollMs: 20 } } },
  { name: 'l1', options: { l1: { ttlSeconds: 10 } } },
  { name: 'generations, l1', options: { generations: true, l1: { ttlSeconds: 10 } } },
  { name: 'lease, l1', options: { lease: { pollMs: 5, maxPollMs: 20 }, l1: { ttlSeconds: 10 } } },
  // Each replica with its own sidecar (in this process, sharing state and bus), delivering to its backplane.
  { name: 'backplane, l1', options: { l1: { ttlSeconds: 10 } }, backplane: true },
  { name: 'backplane, generations, l1', options: { generations: true, l1: { ttlSeconds: 10 } }, backplane: true },
]

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const random = (max) => Math.floor(Math.random() * (max + 1))

/** Rounds of one combination on one sidecar: how many had a stale read right after, and 100 ms after. */
const measure = async (url, source, combination, rounds, name, flavour) => {
  const ports = combination.backplane === true ? await Promise.all(Array.from({ length: 2 * REPLICAS }, freePort)) : []
  const sidecars = []
  const replicas = await Promise.all(
    Array.from({ length: REPLICAS }, (_, index) =>
      replicaProcess({
        daprUrl: combination.backplane === true ? `http://127.0.0.1:${ports[2 * index]}` : url,
        source: source.url,
        name,
        ...combination.options,
        ...(combination.backplane === true ? { backplane: { listen: ports[2 * index + 1], heartbeatMs: 200 } } : {}),
      }),
    ),
  )
  if (combination.backplane === true) {
    for (let index = 0; index < REPLICAS; index++) {
      sidecars.push(await startTestSidecar({ flavour, port: ports[2 * index], appPort: ports[2 * index + 1], ...(index === 0 ? {} : { replicaOf: sidecars[0] }) }))
    }
    const deadline = Date.now() + 20_000
    while (!(await Promise.all(replicas.map((one) => one.ask({ type: 'stats' })))).every((stats) => stats.bus?.trusted === true)) {
      if (Date.now() > deadline) throw new Error('staleness: the backplanes did not hear their heartbeats within 20 s')
      await sleep(50)
    }
  }
  const stale = { rightAfter: [0, 0], later: [0, 0] }
  const readAll = async (id) => (await Promise.all(replicas.map((one) => one.ask({ type: 'call', id, fnMs: 0 })))).map((answer) => answer.values[0].version)
  /** Counts the round in `counts`: [on the invalidating replica, on another]. */
  const count = (counts, versions, bumped, invalidating) => {
    if (versions[invalidating] < bumped) counts[0]++
    if (versions.some((version, index) => index !== invalidating && version < bumped)) counts[1]++
  }
  try {
    for (let round = 0; round < rounds; round++) {
      const id = 1
      const invalidating = 0
      await replicas[invalidating].ask({ type: 'invalidate', id })
      const loads = replicas.map((one) => one.ask({ type: 'call', id, fnMs: random(40) }))
      await sleep(random(30))
      const bumped = source.bump()
      await replicas[invalidating].ask({ type: 'invalidate', id })
      count(stale.rightAfter, await readAll(id), bumped, invalidating)
      await Promise.all(loads)
      await sleep(100)
      count(stale.later, await readAll(id), bumped, invalidating)
    }
  } finally {
    for (const one of replicas) one.kill()
    for (const sidecar of sidecars) await sidecar.close()
  }
  return stale
}

/** The source: its version over HTTP, bumped here. */
const startSource = async () => {
  let version = 1
  const server = createServer((_request, response) => response.end(String(version)))
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${server.address().port}/`, bump: () => ++version, close: () => new Promise((resolve) => server.close(resolve)) }
}

/**
 * The measured rows: flavour, combination, then rounds with a stale read right after (on the
 * invalidating replica, on another) and 100 ms after (the same two).
 */
export const staleness = async (rounds) => {
  const source = await startSource()
  const rows = []
  try {
    for (const flavour of ['in-memory', 'redis']) {
      const sidecar = await sidecarProcess(flavour)
      try {
        for (const [index, combination] of combinations.entries()) {
          const stale = await measure(sidecar.url, source, combination, rounds, `bench.staleness.${flavour}.${index}.${Date.now()}`, flavour)
          const cells = [...stale.rightAfter, ...stale.later].map((rounds) => String(rounds))
          rows.push([flavour, combination.name, ...cells])
          console.error(`staleness: ${flavour}, ${combination.name}: ${cells.join(' / ')} of ${rounds}`)
        }
      } finally {
        await sidecar.close()
      }
    }
  } finally {
    await source.close()
  }
  return rows
}

export const stalenessTable = (rows, rounds) =>
  table(['sidecar', 'options', `right after: invalidating replica (of ${rounds})`, 'right after: another', '100 ms after: invalidating', '100 ms after: another'], rows)

export const ROUNDS = quick ? 40 : 150

/**
 * What the options cost one process on the test sidecar (its own process): a miss of a function that
 * returns at once (the read, the generations' reads, the lease, the write) and an invalidation, in ms,
 * median of `reps` interleaved repetitions of 200 of each.
 */
export const costs = async (reps = quick ? 5 : 9) => {
  const sidecar = await sidecarProcess()
  const store = daprStore({ daprUrl: sidecar.url, env: {} })
  const silent = { warn: () => undefined }
  let run = 0
  const contenders = combinations
    .filter(({ options }) => options.l1 === undefined)
    .map(({ name, options }) => ({ name, make: () => cacheable({ store, name: `bench.costs.${run++}`, logger: silent, ...options })(async (n) => n) }))
  const timings = new Map(contenders.map(({ name }) => [name, { miss: [], invalidate: [] }]))
  const results = await interleaved(contenders, reps, async ({ name, make }) => {
    const cached = make()
    const ids = Array.from({ length: 200 }, (_, i) => i)
    let started = performance.now()
    for (const id of ids) await cached(id)
    const miss = (performance.now() - started) / ids.length
    started = performance.now()
    for (const id of ids) await cached.invalidate(id)
    timings.get(name).invalidate.push((performance.now() - started) / ids.length)
    return miss
  })
  await store.close()
  await sidecar.close()
  const base = { miss: median(results.get('neither')), invalidate: median(timings.get('neither').invalidate) }
  return contenders.map(({ name }) => {
    const miss = summary(results.get(name))
    const invalidate = summary(timings.get(name).invalidate)
    const cell = ({ median: m, min, max }, against) => `${m.toFixed(2)} (${min.toFixed(2)}-${max.toFixed(2)}), ${(m / against).toFixed(2)}x`
    return [name, cell(miss, base.miss), cell(invalidate, base.invalidate)]
  })
}

export const costsTable = (rows) => table(['options', 'miss ms median (min-max), vs neither', 'invalidate ms, vs neither'], rows)

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(costsTable(await costs()))
  console.log(stalenessTable(await staleness(ROUNDS), ROUNDS))
}
