// `npm run bench` (or `npm run bench -- --quick`): this library next to the protocol's floor and to
// the caches a user would pick instead, measured in the same run, interleaved. Every figure is the
// median of the repetitions with its min-max; every comparison a ratio of medians from this run.
// Keys and values are made before any timed code. Writes bench/results.json and bench/results.md.
import { readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { Pool } from 'undici'
import { LRUCache } from 'lru-cache'
import { BentoCache, bentostore } from 'bentocache'
import { memoryDriver } from 'bentocache/drivers/memory'
import { createCache as createCacheManager } from 'cache-manager'
import { Cacheable } from 'cacheable'
import { createCache as createDedupeCache } from 'async-cache-dedupe'
import { CommunicationProtocolEnum, DaprClient, LogLevel } from '@dapr/dapr'
import { InMemoryMetrics, OpenTelemetryMetrics, cacheable, daprStore, defaultKeyBuilder, jsonSerializer, memoryStore, msgpackSerializer } from 'dapr-state-cache'
import { startDaprd } from 'dapr-state-cache/testing'
import { ROUNDS, costs, costsTable, staleness, stalenessTable } from './staleness.mjs'
import { backplaneBench } from './backplane.mjs'
import { tagsBench } from './tags.mjs'
import { batchingBench } from './batching.mjs'
import { valueSizeBench } from './value-size.mjs'
import { componentsBench } from './components.mjs'
import { replicaProcess, byteViews, fmt, identitySerializer, interleaved, load, median, quick, row, sidecarProcess, summary, table, throughput } from './lib.mjs'

const REPS = quick ? 5 : 7
const MS = quick ? 150 : 400
const LOAD_MS = quick ? 300 : 1000
const sections = []
const json = {}
const section = (title, body) => {
  sections.push(`### ${title}\n\n${body}\n`)
  console.log(`\n### ${title}\n\n${body}`)
}
const range = ({ median: m, min, max }, digits = 0) => `${fmt(m, digits)} (${fmt(min, digits)}-${fmt(max, digits)})`

const silent = { warn: () => undefined }

// ---------------------------------------------------------------------------------------------
// 1. Remote hit over HTTP
// ---------------------------------------------------------------------------------------------
const remoteHit = async () => {
  const sidecar = await sidecarProcess()
  const sizes = quick ? [200] : [200, 10_000]
  const concurrencies = [1, 16]
  const rows = []
  const targets = []
  for (const size of sizes) {
    const value = 'x'.repeat(size)
    const keys = Array.from({ length: 100 }, (_, i) => `bench:${size}:${i}`)
    const bytes = msgpackSerializer().serialize(value)
    await sidecar.ask('seed', { entries: keys.map((key) => [key, JSON.stringify(Buffer.from(bytes).toString('base64'))]) })
    // Ours: the cached function's hit path (its key builder yields these keys).
    const store = daprStore({ daprUrl: sidecar.url, env: {}, connections: 16 })
    const ours = cacheable({ store, logger: silent, keyBuilder: { buildKey: (_name, args) => keys[args[0] % keys.length] } })(
      async function remote() {
        throw new Error('a hit never computes')
      },
    )
    const pool = new Pool(sidecar.url, { connections: 16, pipelining: 1 })
    const floor = async (i) => {
      const response = await pool.request({ method: 'GET', path: `/v1.0/state/cache/${encodeURIComponent(keys[i % keys.length])}` })
      return Buffer.from(JSON.parse(await response.body.text()), 'base64')
    }
    const fetchGet = async (i) => {
      const response = await fetch(`${sidecar.url}/v1.0/state/cache/${encodeURIComponent(keys[i % keys.length])}`)
      return Buffer.from(JSON.parse(await response.text()), 'base64')
    }
    const port = new URL(sidecar.url).port
    const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: port, communicationProtocol: CommunicationProtocolEnum.HTTP, logger: { level: LogLevel.Error } })
    await client.start()
    const sdk = async (i) => Buffer.from(await client.state.get('cache', keys[i % keys.length]), 'base64')
    const contenders = [
      { name: 'undici Pool.request (floor)', run: floor },
      { name: 'dapr-state-cache', run: (i) => ours(i) },
      { name: '@dapr/dapr state.get', run: sdk },
      { name: 'global fetch', run: fetchGet },
    ]
    for (const contender of contenders) await load(contender.run, { concurrency: 4, ms: 100 }) // warm up
    for (const concurrency of concurrencies) {
      const results = await interleaved(contenders, REPS, async (contender) => {
        const measured = await load(contender.run, { concurrency, ms: LOAD_MS })
        await sidecar.ask('requests')
        return measured
      })
      const of = (name, field) => summary(results.get(name).map((r) => r[field]))
      const baseRps = of('undici Pool.request (floor)', 'rps').median
      const baseCpu = of('undici Pool.request (floor)', 'cpuUs').median
      for (const { name } of contenders) {
        const rps = of(name, 'rps')
        const cpu = of(name, 'cpuUs')
        rows.push([`${size} B`, concurrency, name, range(rps), `${(rps.median / baseRps).toFixed(2)}x`, of(name, 'p50').median.toFixed(3), of(name, 'p99').median.toFixed(3), cpu.median.toFixed(1), `${(cpu.median / baseCpu).toFixed(2)}x`])
      }
      const oursRps = of('dapr-state-cache', 'rps').median
      targets.push({
        what: `${size} B, concurrency ${concurrency}`,
        vsFloor: oursRps / baseRps,
        cpuVsFloor: of('dapr-state-cache', 'cpuUs').median / baseCpu,
        vsSdk: oursRps / of('@dapr/dapr state.get', 'rps').median,
      })
    }
    await client.stop()
    await pool.close()
    await store.close()
  }
  await sidecar.close()
  json.remoteHit = { rows, targets }
  section(
    '1. Remote hit over HTTP (sidecar in its own process)',
    table(['value', 'concurrency', 'client', 'req/s median (min-max)', 'vs floor', 'p50 ms', 'p99 ms', 'client CPU µs/req', 'CPU vs floor'], rows) +
      '\n\n' +
      table(
        ['case', 'ours / floor req/s (target ≥ 0.8)', 'ours / floor CPU (target ≤ 1.3)', 'ours / @dapr/dapr req/s (target ≥ 2.5)'],
        targets.map((t) => [t.what, t.vsFloor.toFixed(2), t.cpuVsFloor.toFixed(2), t.vsSdk.toFixed(2)]),
      ),
  )
}

// ---------------------------------------------------------------------------------------------
// 2. In-process hit, and 7. observability cost on it
// ---------------------------------------------------------------------------------------------
const memoryHit = async () => {
  const N = 1000
  const values = Array.from({ length: N }, (_, i) => row(i))
  const keys = values.map((_, i) => `row:${i}`)
  const load1 = async (i) => values[i]
  const oursMsgpack = cacheable({ store: memoryStore(), logger: silent, name: 'bench.msgpack' })(load1)
  const oursIdentity = cacheable({ store: memoryStore(), logger: silent, name: 'bench.identity', serializer: identitySerializer() })(load1)
  const oursL1Frozen = cacheable({ store: memoryStore(), logger: silent, name: 'bench.l1frozen', l1: { values: 'frozen', maxEntries: 2 * N } })(load1)
  const oursL1Copy = cacheable({ store: memoryStore(), logger: silent, name: 'bench.l1copy', l1: { values: 'copy', maxEntries: 2 * N } })(load1)
  const map = new Map(values.map((value, i) => [keys[i], value]))
  const lru = new LRUCache({ max: 10_000 })
  const bento = new BentoCache({ default: 'memory', stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) } })
  const manager = createCacheManager()
  const cacheableLib = new Cacheable()
  const dedupe = createDedupeCache({ ttl: 3600, storage: { type: 'memory' } })
  dedupe.define('row', async (i) => values[i])
  const contenders = [
    { name: 'Map (floor)', run: async (i) => map.get(keys[i % N]) },
    { name: 'lru-cache (floor)', run: async (i) => lru.get(keys[i % N]) ?? (lru.set(keys[i % N], values[i % N]), values[i % N]) },
    { name: 'dapr-state-cache, identity serializer', run: (i) => oursIdentity(i % N) },
    { name: 'dapr-state-cache, MessagePack', run: (i) => oursMsgpack(i % N) },
    { name: "dapr-state-cache, l1 'frozen'", run: (i) => oursL1Frozen(i % N) },
    { name: "dapr-state-cache, l1 'copy'", run: (i) => oursL1Copy(i % N) },
    { name: 'bentocache (memory)', run: (i) => bento.getOrSet({ key: keys[i % N], factory: () => values[i % N], ttl: '1h' }) },
    { name: 'cache-manager 7 wrap', run: (i) => manager.wrap(keys[i % N], async () => values[i % N], 3_600_000) },
    { name: 'cacheable getOrSet', run: (i) => cacheableLib.getOrSet(keys[i % N], async () => values[i % N], { ttl: '1h' }) },
    { name: 'async-cache-dedupe', run: (i) => dedupe.row(i % N) },
  ]
  for (const contender of contenders) for (let i = 0; i < 2 * N; i++) await contender.run(i) // warm every key
  const results = await interleaved(contenders, REPS, (contender) => throughput(contender.run, MS))
  const base = median(results.get('Map (floor)'))
  const rows = contenders.map(({ name }) => {
    const s = summary(results.get(name))
    return [name, range(s), `${(s.median / base).toFixed(2)}x`, `${(1e6 / s.median).toFixed(2)}`]
  })
  json.memoryHit = Object.fromEntries(contenders.map(({ name }) => [name, summary(results.get(name))]))
  section('2. In-process hit (memory store, 1,000 warm keys, a 15-field object)', table(['cache', 'ops/s median (min-max)', 'vs Map', 'µs/op'], rows))
  await bento.disconnectAll?.()

  // 7. What metrics and tracing cost on that hit path, with no SDK registered.
  const variants = [
    { name: 'no metrics', run: (i) => oursIdentity(i % N) },
    { name: 'InMemoryMetrics', run: cacheable({ store: memoryStore(), logger: silent, name: 'o.mem', serializer: identitySerializer(), metrics: new InMemoryMetrics() })(load1) },
    { name: 'OpenTelemetryMetrics, no SDK', run: cacheable({ store: memoryStore(), logger: silent, name: 'o.otel', serializer: identitySerializer(), metrics: new OpenTelemetryMetrics() })(load1) },
    { name: 'OpenTelemetryMetrics + tracing, no SDK', run: cacheable({ store: memoryStore(), logger: silent, name: 'o.trace', serializer: identitySerializer(), metrics: new OpenTelemetryMetrics(), tracer: true })(load1) },
  ].map((variant) => ({ ...variant, run: variant.name === 'no metrics' ? variant.run : ((fn) => (i) => fn(i % N))(variant.run) }))
  for (const variant of variants) for (let i = 0; i < 2 * N; i++) await variant.run(i)
  const observed = await interleaved(variants, REPS, (variant) => throughput(variant.run, MS))
  const plain = median(observed.get('no metrics'))
  json.observability = Object.fromEntries(variants.map(({ name }) => [name, summary(observed.get(name))]))
  section(
    '7. Observability cost on a memory hit (identity serializer, no SDK registered)',
    table(
      ['variant', 'ops/s median (min-max)', 'µs/op', 'added µs/op'],
      variants.map(({ name }) => {
        const s = summary(observed.get(name))
        return [name, range(s), (1e6 / s.median).toFixed(2), (1e6 / s.median - 1e6 / plain).toFixed(2)]
      }),
    ),
  )
}

// ---------------------------------------------------------------------------------------------
// 3. Stampede
// ---------------------------------------------------------------------------------------------
const stampede = async () => {
  const KEYS = 100
  const CALLERS = 100
  const sleep = () => new Promise((resolve) => setTimeout(resolve, 20))
  const rows = []
  const contenders = [
    {
      name: 'dapr-state-cache',
      make: () => {
        const counts = { calls: 0, reads: 0, writes: 0 }
        const inner = memoryStore()
        // Counts every operation; forwards the memory store's synchronous read too, as a memory store has one.
        const store = {
          name: 'counted',
          get: (k) => (counts.reads++, inner.get(k)),
          readNow: (k) => (counts.reads++, inner.readNow(k)),
          set: (k, v, t) => (counts.writes++, inner.set(k, v, t)),
          delete: inner.delete,
        }
        const fn = cacheable({ store, logger: silent, name: 'stampede' })(async (i) => (counts.calls++, await sleep(), row(i)))
        return { counts, call: (i) => fn(i) }
      },
    },
    {
      name: 'bentocache',
      make: () => {
        const counts = { calls: 0 }
        const bento = new BentoCache({ default: 'memory', stores: { memory: bentostore().useL1Layer(memoryDriver({ maxItems: 10_000 })) } })
        return { counts, call: (i) => bento.getOrSet({ key: `k${i}`, factory: async () => (counts.calls++, await sleep(), row(i)) }) }
      },
    },
    {
      name: 'cache-manager 7 wrap',
      make: () => {
        const counts = { calls: 0 }
        const manager = createCacheManager()
        return { counts, call: (i) => manager.wrap(`k${i}`, async () => (counts.calls++, await sleep(), row(i)), 60_000) }
      },
    },
    {
      name: 'cacheable getOrSet',
      make: () => {
        const counts = { calls: 0 }
        const lib = new Cacheable()
        return { counts, call: (i) => lib.getOrSet(`k${i}`, async () => (counts.calls++, await sleep(), row(i))) }
      },
    },
    {
      name: 'async-cache-dedupe',
      make: () => {
        const counts = { calls: 0 }
        const cache = createDedupeCache({ ttl: 60, storage: { type: 'memory' } })
        cache.define('f', async (i) => (counts.calls++, await sleep(), row(i)))
        return { counts, call: (i) => cache.f(i) }
      },
    },
  ]
  const burst = async (contender) => {
    const { counts, call } = contender.make()
    const started = performance.now()
    await Promise.all(Array.from({ length: KEYS * CALLERS }, (_, n) => call(n % KEYS)))
    return { ...counts, wall: performance.now() - started }
  }
  for (const contender of contenders) for (let i = 0; i < 3; i++) await burst(contender) // warm up, each alike
  const results = await interleaved(contenders, REPS, burst)
  for (const { name } of contenders) {
    const runs = results.get(name)
    const last = runs[runs.length - 1]
    rows.push([name, `${Math.min(...runs.map((r) => r.calls))}-${Math.max(...runs.map((r) => r.calls))}`, last.reads ?? 'n/a', last.writes ?? 'n/a', range(summary(runs.map((r) => r.wall)), 1)])
  }
  json.stampede = Object.fromEntries(contenders.map(({ name }) => [name, results.get(name)]))
  section(`3. Stampede (${KEYS} cold keys x ${CALLERS} concurrent callers, a 20 ms function)`, table(['cache', 'function calls (ideal 100)', 'store reads', 'store writes', 'wall ms median (min-max)'], rows))
}

// ---------------------------------------------------------------------------------------------
// 4. Cold-miss overhead
// ---------------------------------------------------------------------------------------------
const coldMiss = async () => {
  const N = quick ? 20_000 : 50_000
  const value = row(1)
  const direct = (i) => (i >= 0 ? value : null)
  const views = byteViews(N) // the bytes of the N values, made once, before any timed code
  const make = (name) => {
    if (name === 'direct') return async (i) => direct(i)
    if (name === 'cached') return cacheable({ store: memoryStore({ maxEntries: N + 1 }), logger: silent, name: 'cold', serializer: identitySerializer(views) })(direct)
    // A store a tenth the size: from the first tenth on, every write evicts an entry.
    if (name === 'cached, full store') return cacheable({ store: memoryStore({ maxEntries: N / 10 }), logger: silent, name: 'cold', serializer: identitySerializer(views) })(direct)
    // The bytes made during the call: a new buffer per value, as a real serializer's output is.
    if (name === 'cached, bytes made per value') return cacheable({ store: memoryStore({ maxEntries: N + 1 }), logger: silent, name: 'cold', serializer: identitySerializer() })(direct)
    const dedupe = createDedupeCache({ ttl: 3600, storage: { type: 'memory', options: { size: N + 1 } } })
    dedupe.define('cold', async (i) => direct(i))
    return (i) => dedupe.cold(i)
  }
  const runs = await interleaved([{ name: 'direct' }, { name: 'cached' }, { name: 'cached, full store' }, { name: 'cached, bytes made per value' }, { name: 'async-cache-dedupe' }], REPS, async ({ name }) => {
    const fn = make(name)
    const started = performance.now()
    for (let i = 0; i < N; i++) await fn(i) // every key new: every call a miss and a write
    return ((performance.now() - started) * 1000) / N
  })
  // The shape users have: each cache made once and kept (each round asks keys no round asked
  // before), an async function that returns a fresh object per call, and bytes made per value.
  const fresh = async (i) => row(i)
  const rounds = new Map()
  const kept = {
    direct: fresh,
    cached: cacheable({ store: memoryStore({ maxEntries: N * (REPS + 1) }), logger: silent, name: 'real', serializer: identitySerializer() })(fresh),
    'async-cache-dedupe': (() => {
      // The same serializer on both sides: async-cache-dedupe takes one as its transformer.
      const bytes = identitySerializer()
      const dedupe = createDedupeCache({ ttl: 3600, storage: { type: 'memory', options: { size: N * (REPS + 1) } }, transformer: { serialize: (value) => bytes.serialize(value), deserialize: (stored) => bytes.deserialize(stored) } })
      dedupe.define('real', fresh)
      return (i) => dedupe.real(i)
    })(),
  }
  const real = await interleaved([{ name: 'direct' }, { name: 'cached' }, { name: 'async-cache-dedupe' }], REPS, async ({ name }) => {
    const fn = kept[name]
    const round = rounds.get(name) ?? 0
    rounds.set(name, round + 1)
    const first = round * N
    const started = performance.now()
    for (let i = first; i < first + N; i++) await fn(i)
    return ((performance.now() - started) * 1000) / N
  })
  const overhead = median(runs.get('cached')) - median(runs.get('direct'))
  const theirs = median(runs.get('async-cache-dedupe')) - median(runs.get('direct'))
  const realOverhead = median(real.get('cached')) - median(real.get('direct'))
  const realTheirs = median(real.get('async-cache-dedupe')) - median(real.get('direct'))
  json.coldMiss = { direct: summary(runs.get('direct')), cached: summary(runs.get('cached')), fullStore: summary(runs.get('cached, full store')), bytesPerValue: summary(runs.get('cached, bytes made per value')), overheadUs: overhead, asyncCacheDedupeOverheadUs: theirs }
  section(
    '4. Cold-miss overhead (memory store, identity serializer)',
    table(['call', 'µs per call median (min-max)'], [
      ['the function, awaited', range(summary(runs.get('direct')), 2)],
      ['through dapr-state-cache (key, lookup, miss, write)', range(summary(runs.get('cached')), 2)],
      ['the same, the store full (every write evicts one entry)', range(summary(runs.get('cached, full store')), 2)],
      ['the same, the serializer allocating new bytes per value (as a real one does)', range(summary(runs.get('cached, bytes made per value')), 2)],
      ['through async-cache-dedupe (the same, its way)', range(summary(runs.get('async-cache-dedupe')), 2)],
    ]) +
      `\n\nOverhead per miss: **${overhead.toFixed(2)} µs**, async-cache-dedupe's ${theirs.toFixed(2)} µs: **${(overhead / theirs).toFixed(2)}x**.` +
      '\n\nThe shape users have: each cache made once and kept, an async function that returns a fresh 15-field object per call, a serializer making bytes per value (the same one for async-cache-dedupe, as its transformer), every key new.\n\n' +
      table(['call', 'µs per call median (min-max)'], [
        ['the function, awaited', range(summary(real.get('direct')), 2)],
        ['through dapr-state-cache', range(summary(real.get('cached')), 2)],
        ['through async-cache-dedupe', range(summary(real.get('async-cache-dedupe')), 2)],
      ]) +
      `\n\nOverhead per miss on the users' shape: **${realOverhead.toFixed(2)} µs**, async-cache-dedupe's ${realTheirs.toFixed(2)} µs: **${(realOverhead / realTheirs).toFixed(2)}x** (target ≤ 1.0x).`,
  )
  json.coldMiss.realShape = { direct: summary(real.get('direct')), cached: summary(real.get('cached')), asyncCacheDedupe: summary(real.get('async-cache-dedupe')), overheadUs: realOverhead, asyncCacheDedupeOverheadUs: realTheirs }
}

// ---------------------------------------------------------------------------------------------
// 5. Serializer cost and size
// ---------------------------------------------------------------------------------------------
const serializers = async () => {
  const small = row(7)
  const large = Array.from({ length: 1000 }, (_, i) => row(i))
  const msgpack = msgpackSerializer()
  const jsonS = jsonSerializer()
  const wire = (bytes) => JSON.stringify(Buffer.from(bytes).toString('base64'))
  const contenders = [
    { name: 'MessagePack + base64 (default wire)', run: (v) => msgpack.deserialize(Buffer.from(JSON.parse(wire(msgpack.serialize(v))), 'base64')), size: (v) => wire(msgpack.serialize(v)).length },
    { name: 'JSON (jsonSerializer + base64)', run: (v) => jsonS.deserialize(Buffer.from(JSON.parse(wire(jsonS.serialize(v))), 'base64')), size: (v) => wire(jsonS.serialize(v)).length },
    { name: 'plain JSON.stringify/parse', run: (v) => JSON.parse(JSON.stringify(v)), size: (v) => JSON.stringify(v).length },
  ]
  const rows = []
  for (const [label, value] of [['small (15 fields)', small], ['large (1,000 rows)', large]]) {
    const results = await interleaved(contenders, REPS, (contender) => throughput(async () => contender.run(value), MS))
    for (const contender of contenders) rows.push([label, contender.name, range(summary(results.get(contender.name))), contender.size(value)])
  }
  json.serializers = rows
  section('5. Serializer round trip and size on the wire', table(['value', 'format', 'round trips/s median (min-max)', 'bytes on the wire'], rows))
}

// ---------------------------------------------------------------------------------------------
// 6. Sick store
// ---------------------------------------------------------------------------------------------
const sickStore = async () => {
  const sidecar = await sidecarProcess()
  const compute = async (i) => row(i)
  const rows = []
  const conditions = [
    ['healthy', null],
    ['refusing connections', 'refuse'],
    ['hanging', { kind: 'hang' }],
    ['failing half its requests (500)', { kind: 'status', status: 500, probability: 0.5 }],
  ]
  const warm = daprStore({ daprUrl: sidecar.url, env: {}, breaker: false })
  const warmFn = cacheable({ store: warm, logger: silent, name: 'sick.warm' })(compute)
  await load((i) => warmFn(i % 200), { concurrency: 16, ms: 300 })
  await warm.close()
  for (const [label, fault] of conditions) {
    // Breaker on and off measured interleaved, under the same fault, each with its own store.
    const contenders = [true, false].map((breaker) => {
      const store = daprStore({ daprUrl: sidecar.url, env: {}, timeoutMs: 50, ...(breaker ? { breaker: { failureThreshold: 5, cooldownMs: 1000 } } : { breaker: false }) })
      return { name: breaker ? 'on' : 'off', store, fn: cacheable({ store, logger: silent, name: `sick.warm` })(compute) }
    })
    // Each store opens its connections and each path is compiled before the fault and the measurements.
    for (const contender of contenders) await load((i) => contender.fn(i % 200), { concurrency: 16, ms: quick ? 100 : 200 })
    if (fault === 'refuse') await sidecar.ask('refuse', { on: true })
    else await sidecar.ask('fault', { fault })
    const results = await interleaved(contenders, REPS, async (contender) => {
      await sidecar.ask('requests')
      const measured = await load((i) => contender.fn(i % 200), { concurrency: 16, ms: quick ? 200 : 500 })
      return { ...measured, reached: (await sidecar.ask('requests')).count }
    })
    if (fault === 'refuse') await sidecar.ask('refuse', { on: false })
    await sidecar.ask('fault', { fault: null })
    for (const contender of contenders) {
      await contender.store.close()
      const of = (field) => summary(results.get(contender.name).map((r) => r[field]))
      rows.push([label, contender.name, range(of('rps')), of('p50').median.toFixed(2), of('p99').median.toFixed(2), fmt(of('reached').median)])
    }
  }
  await sidecar.close()
  json.sickStore = rows
  section(
    `6. Sick store (timeout 50 ms, 16 concurrent callers, 200 keys; breaker on and off interleaved, ${REPS} repetitions each)`,
    table(['sidecar', 'breaker', 'calls/s median (min-max)', 'p50 ms', 'p99 ms', 'requests that reached the sidecar per measurement'], rows),
  )
}

// ---------------------------------------------------------------------------------------------
// 8. Remote hit and miss against real daprd on real Redis
// ---------------------------------------------------------------------------------------------
const realFloor = async () => {
  // daprd and Redis are processes of their own; on two cores they compete with the client for CPU.
  let daprd
  try {
    daprd = await startDaprd({ flavour: 'redis' })
  } catch (error) {
    if (error.code !== 'E_DAPRD_NOT_FOUND' && error.code !== 'E_REDIS_START') throw error
    section('8. Remote hit and miss on real daprd with Redis', `Not measured: ${error.message.split('\n')[0]} (run \`npm run dapr:build\`, install redis-server).`)
    return
  }
  const sizes = quick ? [200] : [200, 10_000]
  const concurrencies = [1, 16]
  const rows = []
  const targets = []
  const pool = new Pool(daprd.url, { connections: 16, pipelining: 1 })
  const client = new DaprClient({ daprHost: '127.0.0.1', daprPort: String(daprd.httpPort), communicationProtocol: CommunicationProtocolEnum.HTTP, logger: { level: LogLevel.Error } })
  await client.start()
  const store = daprStore({ daprUrl: daprd.url, env: {}, connections: 16 })
  let run = 0 // a fresh key space for every miss measurement
  for (const size of sizes) {
    const value = 'x'.repeat(size)
    const wire = Buffer.from(msgpackSerializer().serialize(value)).toString('base64')
    const keys = Array.from({ length: 100 }, (_, i) => `bench:real:${size}:${i}`)
    const body = JSON.stringify(keys.map((key) => ({ key, value: wire, metadata: { ttlInSeconds: '3600' } })))
    await (await pool.request({ method: 'POST', path: '/v1.0/state/cache', body, headers: { 'content-type': 'application/json' } })).body.text()
    const missKey = (who, i) => `bench:miss:${who}:${size}:${run}:${i}`
    const saveBody = (key) => `[{"key":${JSON.stringify(key)},"value":"${wire}","metadata":{"ttlInSeconds":"60"}}]`
    const oursHit = cacheable({ store, logger: silent, keyBuilder: { buildKey: (_name, args) => keys[args[0] % keys.length] } })(async function remote() {
      throw new Error('a hit never computes')
    })
    const oursMiss = cacheable({ store, logger: silent, ttlSeconds: 60, keyBuilder: { buildKey: (_name, args) => missKey('ours', args[0]) } })(async function computed() {
      return value
    })
    // The same miss answered once computed, its save finishing in the background (`backgroundWrites`).
    const oursMissBackground = cacheable({ store, logger: silent, ttlSeconds: 60, backgroundWrites: true, keyBuilder: { buildKey: (_name, args) => missKey('background', args[0]) } })(async function computed() {
      return value
    })
    const floorGet = async (key) => {
      const response = await pool.request({ method: 'GET', path: `/v1.0/state/cache/${encodeURIComponent(key)}` })
      const text = await response.body.text()
      return response.statusCode === 200 ? Buffer.from(JSON.parse(text), 'base64') : undefined
    }
    const floorSave = async (key) => {
      const response = await pool.request({ method: 'POST', path: '/v1.0/state/cache', body: saveBody(key), headers: { 'content-type': 'application/json' } })
      await response.body.text()
    }
    const contenders = {
      hit: [
        { name: 'undici Pool.request (floor)', run: (i) => floorGet(keys[i % keys.length]) },
        { name: 'dapr-state-cache', run: (i) => oursHit(i) },
        { name: '@dapr/dapr state.get', run: async (i) => Buffer.from(await client.state.get('cache', keys[i % keys.length]), 'base64') },
      ],
      miss: [
        {
          name: 'undici Pool.request (floor)',
          run: async (i) => {
            const key = missKey('floor', i)
            if ((await floorGet(key)) === undefined) await floorSave(key)
          },
        },
        { name: 'dapr-state-cache', run: (i) => oursMiss(i) },
        {
          name: 'dapr-state-cache, backgroundWrites',
          run: (i) => oursMissBackground(i),
          // Its saves still on their way when the window closes land before the next contender's.
          after: async () => {
            while (oursMissBackground.pending() > 0) await new Promise((resolve) => setTimeout(resolve, 1))
          },
        },
        {
          name: '@dapr/dapr state.get + save',
          run: async (i) => {
            const key = missKey('sdk', i)
            if (!(await client.state.get('cache', key))) await client.state.save('cache', [{ key, value: wire, metadata: { ttlInSeconds: '60' } }])
          },
        },
      ],
    }
    for (const [kind, list] of Object.entries(contenders)) {
      for (const contender of list) await load(contender.run, { concurrency: 4, ms: 100 }) // warm up
      for (const concurrency of concurrencies) {
        const results = await interleaved(list, REPS, async (contender) => {
          run++
          const result = await load(contender.run, { concurrency, ms: LOAD_MS })
          await contender.after?.()
          return result
        })
        const of = (name, field) => summary(results.get(name).map((r) => r[field]))
        const floor = 'undici Pool.request (floor)'
        const baseRps = of(floor, 'rps').median
        const baseCpu = of(floor, 'cpuUs').median
        for (const { name } of list) {
          const rps = of(name, 'rps')
          const cpu = of(name, 'cpuUs')
          rows.push([kind, `${size} B`, concurrency, name, range(rps), `${(rps.median / baseRps).toFixed(2)}x`, of(name, 'p50').median.toFixed(3), of(name, 'p99').median.toFixed(3), cpu.median.toFixed(1), `${(cpu.median / baseCpu).toFixed(2)}x`])
        }
        targets.push({
          what: `${kind}, ${size} B, concurrency ${concurrency}`,
          vsFloor: of('dapr-state-cache', 'rps').median / baseRps,
          cpuVsFloor: of('dapr-state-cache', 'cpuUs').median / baseCpu,
        })
      }
    }
  }
  await client.stop()
  await pool.close()
  await store.close()
  await daprd.close()
  json.realFloor = { daprd: daprd.version, rows, targets }
  section(
    `8. Remote hit and miss on real daprd ${daprd.version} with Redis (the production topology)`,
    table(['call', 'value', 'concurrency', 'client', 'req/s median (min-max)', 'vs floor', 'p50 ms', 'p99 ms', 'client CPU µs/call', 'CPU vs floor'], rows) +
      '\n\n' +
      table(
        ['case', 'ours / floor req/s (target ≥ 0.91, i.e. within 1.1x)', 'ours / floor CPU (target ≤ 1.3)'],
        targets.map((t) => [t.what, t.vsFloor.toFixed(2), t.cpuVsFloor.toFixed(2)]),
      ),
  )
}

// ---------------------------------------------------------------------------------------------
// 9. Stampede across replica processes
// ---------------------------------------------------------------------------------------------
const replicaStampede = async () => {
  const FN_MS = 300
  const REPLICAS = 6
  const CALLERS = 50
  const reps = quick ? 3 : 5
  const replica = replicaProcess
  const topologies = []
  const sidecar = await sidecarProcess()
  topologies.push({ name: 'test sidecar (own process)', urls: Array.from({ length: REPLICAS }, () => sidecar.url), close: () => sidecar.close() })
  let daprds = []
  try {
    const first = await startDaprd({ flavour: 'redis' })
    daprds = [first, ...(await Promise.all(Array.from({ length: REPLICAS - 1 }, () => startDaprd({ flavour: 'redis', redisHost: first.redis.host }))))]
    topologies.push({ name: `${REPLICAS} real daprds, one Redis`, urls: daprds.map((daprd) => daprd.url), close: async () => Promise.all(daprds.map((daprd) => daprd.close())) })
  } catch (error) {
    if (error.code !== 'E_DAPRD_NOT_FOUND' && error.code !== 'E_REDIS_START') throw error
  }
  const rows = []
  let key = 0
  for (const topology of topologies) {
    for (const mode of ['lease: true', 'no lease (single flight per process)']) {
      const lease = mode === 'lease: true' ? { pollMs: 10, maxPollMs: 50 } : undefined
      const replicas = await Promise.all(topology.urls.map((daprUrl) => replica({ daprUrl, lease, name: 'bench.replicas' })))
      const lasts = []
      const computations = []
      for (let rep = 0; rep < reps; rep++) {
        const id = ++key
        const before = (await Promise.all(replicas.map((one) => one.ask({ type: 'stats' })))).reduce((sum, one) => sum + one.computations, 0)
        const answers = await Promise.all(replicas.map((one) => one.ask({ type: 'call', id, callers: CALLERS, fnMs: FN_MS })))
        const after = (await Promise.all(replicas.map((one) => one.ask({ type: 'stats' })))).reduce((sum, one) => sum + one.computations, 0)
        lasts.push(Math.max(...answers.flatMap((answer) => answer.ms)))
        computations.push(after - before)
      }
      for (const one of replicas) one.kill()
      const last = summary(lasts)
      rows.push([topology.name, mode, `${REPLICAS} x ${CALLERS}`, computations.join(', '), range(last), `${(last.median / FN_MS).toFixed(2)}x`])
    }
    await topology.close()
  }
  json.replicaStampede = rows
  section(
    `9. Stampede across replica processes (${REPLICAS} processes x ${CALLERS} callers, one cold key, a ${FN_MS} ms function, ${reps} runs)`,
    table(['sidecar', 'mode', 'callers', 'computations per run', 'last caller ms median (min-max)', 'vs function time'], rows),
  )
}

// ---------------------------------------------------------------------------------------------
// 10. Key cost against argument size
// ---------------------------------------------------------------------------------------------
const keyCost = async () => {
  const { createHash } = await import('node:crypto')
  const list = (n) => Array.from({ length: n }, (_, i) => ({ id: i, name: `item ${i}`, price: 1.5 + i, tags: ['a', 'b'], active: i % 2 === 0 }))
  const rows = []
  for (const n of [1, 8, 80, 800]) {
    const argument = list(n)
    const bytes = JSON.stringify(argument).length
    const builder = defaultKeyBuilder()
    const contenders = [
      { name: 'JSON.stringify + SHA-256 (floor)', run: () => createHash('sha256').update(JSON.stringify({ args: [argument], kwargs: {} })).digest('hex').slice(0, 16) },
      { name: 'dapr-state-cache key (Python json.dumps + SHA-256)', run: () => builder.buildKey('bench.key', [argument]) },
    ]
    const results = await interleaved(contenders, REPS, (contender) => throughput(contender.run, MS))
    const floor = median(results.get(contenders[0].name))
    const ours = median(results.get(contenders[1].name))
    rows.push([`${fmt(bytes)} B`, (1e6 / floor).toFixed(2), (1e6 / ours).toFixed(2), `${(floor / ours).toFixed(2)}x`])
  }
  json.keyCost = rows
  section(
    '10. Key cost against argument size (a list of small objects; µs per key, medians of interleaved runs)',
    table(['argument (JSON size)', 'floor µs', 'ours µs', 'ours / floor (target ≤ 2x from 500 B up)'], rows),
  )
}

// ---------------------------------------------------------------------------------------------
// 11. When the source fails or is slow
// ---------------------------------------------------------------------------------------------
const failingSource = async () => {
  const sidecar = await sidecarProcess()
  const store = daprStore({ daprUrl: sidecar.url, env: {}, breaker: false })
  const KEYS = REPS
  const FN_MS = 2000
  const source = { mode: 'ok' }
  const fn = async (id) => {
    if (source.mode === 'fail') throw new Error('the source is down')
    if (source.mode === 'slow') await new Promise((resolve) => setTimeout(resolve, FN_MS))
    return { id, at: Date.now() }
  }
  const softly = cacheable({ store, logger: silent, name: 'bench.soft', ttlSeconds: 1, failSafe: true, timeouts: { softMs: 50 } })(fn)
  const hardly = cacheable({ store, logger: silent, name: 'bench.hard', ttlSeconds: 1, timeouts: { hardMs: 100 } })(fn)
  const safely = cacheable({ store, logger: silent, name: 'bench.safe', ttlSeconds: 1, failSafe: { throttleSeconds: 1 } })(fn)
  const plain = cacheable({ store, logger: silent, name: 'bench.plain', ttlSeconds: 1 })(fn)
  // A value for every key, then let them all expire: each key has a stale copy and no value.
  for (let id = 0; id < KEYS; id++) await Promise.all([softly(id), safely(id)])
  await new Promise((resolve) => setTimeout(resolve, 1200))
  const timed = async (call) => {
    const started = performance.now()
    await call().catch(() => undefined)
    return performance.now() - started
  }
  const measure = async (mode, f) => {
    source.mode = mode
    const times = []
    for (let id = 0; id < KEYS; id++) times.push(await timed(() => f(id)))
    return summary(times)
  }
  const rows = [
    ['soft timeout 50 ms, a stale copy, the function takes 2 s', await measure('slow', softly)],
    ['hard timeout 100 ms, no stale copy, the function takes 2 s', await measure('slow', hardly)],
    ['fail-safe, a stale copy, the function throws', await measure('fail', safely)],
    ['no option, the function takes 2 s (for scale)', await measure('slow', plain)],
  ]
  // The computations the callers stopped waiting for land in the background, and are written.
  await new Promise((resolve) => setTimeout(resolve, FN_MS + 200))
  const pending = softly.pending() + hardly.pending()
  source.mode = 'ok'
  // What each option costs a remote hit: fail-safe nothing, refresh ahead a bulk get of the value and
  // its companion entry instead of a get (TTL an hour: nothing is due for a refresh here).
  const hitters = [
    { name: 'no option', options: {} },
    { name: 'failSafe', options: { failSafe: true } },
    { name: 'refreshAhead (bulk get)', options: { refreshAhead: true } },
  ].map(({ name, options }) => ({ name, f: cacheable({ store, logger: silent, name: `bench.hit.${name}`, ttlSeconds: 3600, ...options })(fn) }))
  for (const { f } of hitters) await f(0)
  const hits = await interleaved(hitters, REPS, ({ f }) => throughput(() => f(0), MS))
  const baseHit = median(hits.get('no option'))
  json.failingSource = Object.fromEntries(rows.map(([name, figures]) => [name, figures]))
  section(
    `11. When the source fails or is slow (over HTTP to the test sidecar, ${KEYS} keys one after the other)`,
    table(['call', 'ms until the caller has its answer, median (min-max)'], rows.map(([name, figures]) => [name, range(figures, 1)])) +
      `\n\nBackground computations still running ${FN_MS + 200} ms later: ${pending}.\n\n` +
      table(
        ['remote hit, one caller', 'calls/s median (min-max)', 'vs no option'],
        hitters.map(({ name }) => [name, range(summary(hits.get(name))), `${(median(hits.get(name)) / baseHit).toFixed(2)}x`]),
      ),
  )
  await store.close()
  await sidecar.close()
}

// ---------------------------------------------------------------------------------------------

const version = (name) => JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')).version
const machine = [
  `- node ${process.version}, ${os.cpus().length} x ${os.cpus()[0]?.model ?? 'cpu'}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, ${os.platform()} ${os.release()}`,
  `- dapr-state-cache ${JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version}; undici ${version('undici')}, @dapr/dapr ${version('@dapr/dapr')}, bentocache ${version('bentocache')}, cache-manager ${version('cache-manager')}, cacheable ${version('cacheable')}, async-cache-dedupe ${version('async-cache-dedupe')}, lru-cache ${version('lru-cache')}`,
  `- \`npm run bench${quick ? ' -- --quick' : ''}\`: ${REPS} interleaved repetitions, ${MS} ms per in-process measurement, ${LOAD_MS} ms per HTTP load`,
].join('\n')
console.log(`## Run of ${new Date().toISOString()}\n\n${machine}`)

const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice(7).split(',')
// ---------------------------------------------------------------------------------------------
// 12. Staleness after invalidate, across replica processes (bench/staleness.mjs)
// ---------------------------------------------------------------------------------------------
const invalidationStaleness = async () => {
  const cost = await costs()
  json.invalidationCosts = cost
  section('12a. What invalidation that wins across replicas costs (one process, test sidecar in its own process)', costsTable(cost))
  const rows = await staleness(ROUNDS)
  json.invalidationStaleness = rows
  section(
    `12b. Rounds with a read older than the invalidation (${ROUNDS} rounds, 3 replica processes on one test sidecar, loads in flight in every round)`,
    stalenessTable(rows, ROUNDS),
  )
}

// ---------------------------------------------------------------------------------------------
// 13. The backplane on real daprd with pubsub.redis (bench/backplane.mjs)
// ---------------------------------------------------------------------------------------------
/** What `run` measured on real daprd, or undefined after saying in `title`'s section why it could not. */
const onDaprd = async (title, run) => {
  try {
    return await run()
  } catch (error) {
    if (error.code !== 'E_DAPRD_NOT_FOUND' && error.code !== 'E_REDIS_START') throw error
    section(title, `Not measured: ${error.message.split('\n')[0]} (run \`npm run dapr:build\`, install redis-server).`)
    return undefined
  }
}

const backplaneSection = async () => {
  const result = await onDaprd('13. The backplane on real daprd with Redis', backplaneBench)
  if (result === undefined) return
  json.backplane = result
  const { propagation, cost } = result
  section(
    `13. The backplane on real daprd with pubsub.redis (3 daprds on one Redis, 3 backplanes in this process)`,
    table(
      ['measure', 'value'],
      [
        ['propagation p50 (invalidate resolved -> last of 2 other replicas heard it)', `${fmt(propagation.p50, 2)} ms`],
        ['propagation p99', `${fmt(propagation.p99, 2)} ms`],
        ['propagation max', `${fmt(propagation.max, 2)} ms`],
        ['invalidate itself (median; it resolves once the sidecar took the message)', `${fmt(propagation.invalidateMs, 2)} ms`],
        ['rounds not heard within 2 s', `${propagation.missed} of ${propagation.rounds}`],
        ['a miss written, without the backplane (median µs/call)', fmt(cost.plainUs, 0)],
        ['a miss written, with it (median µs/call)', fmt(cost.busUs, 0)],
        ['ratio', `${fmt(cost.busUs / cost.plainUs, 2)}x`],
        ['messages published for the writes with it (heartbeats included)', `${result.messages} for ${result.writes} writes`],
      ],
    ),
  )
}

// ---------------------------------------------------------------------------------------------
// 14. Tags on real daprd with Redis (bench/tags.mjs)
// ---------------------------------------------------------------------------------------------
const tagsSection = async () => {
  const result = await onDaprd('14. Tags on real daprd with Redis', tagsBench)
  if (result === undefined) return
  json.tags = result
  const requests = Object.entries(result.requests).map(([method, count]) => `${method} ${count}`).join(', ')
  section(
    '14. Tags on real daprd with Redis',
    table(
      ['measure', 'value'],
      [
        ['a miss without tags (median ms, 200 one after the other)', fmt(result.missMs.plain, 2)],
        ['a miss with one tag', `${fmt(result.missMs.tagged, 2)} (${fmt(result.missMs.tagged / result.missMs.plain, 2)}x)`],
        [`writing ${result.size} tagged entries, 100 at a time`, `${fmt(result.writeMs, 0)} ms`],
        [`invalidateTag over them: keys deleted`, String(result.deleted)],
        ['invalidateTag: time', `${fmt(result.invalidateMs, 0)} ms`],
        ['invalidateTag: requests to the sidecar', requests],
      ],
    ),
  )
}

// ---------------------------------------------------------------------------------------------
// 15. Batched reads on real daprd with Redis (bench/batching.mjs)
// ---------------------------------------------------------------------------------------------
const batchingSection = async () => {
  const result = await onDaprd('15. Batched reads on real daprd with Redis', batchingBench)
  if (result === undefined) return
  json.batching = result
  section(
    '15. Batched reads on real daprd with Redis (callers reading distinct keys one after the other; medians of interleaved runs)',
    table(
      ['reads', 'callers', 'floor: reads/s, p99 ms', 'unbatched: reads/s, p99 ms, CPU µs/read', 'batched: reads/s, p99 ms, CPU µs/read', 'batched vs floor', 'bulk ceiling: keys/s', 'batched vs ceiling'],
      result.rows.map((row) => [
        row.kind,
        String(row.concurrency),
        `${fmt(row.floor.rps)}, ${fmt(row.floor.p99, 2)}`,
        `${fmt(row.unbatched.rps)}, ${fmt(row.unbatched.p99, 2)}, ${fmt(row.unbatched.cpuUs, 0)}`,
        `${fmt(row.batched.rps)}, ${fmt(row.batched.p99, 2)}, ${fmt(row.batched.cpuUs, 0)}`,
        `${fmt(row.batched.rps / row.floor.rps, 2)}x`,
        fmt(row.bulkCeiling),
        `${fmt(row.batched.rps / row.bulkCeiling, 2)}x`,
      ]),
    ) +
      `\n\nA lone caller, p50 of a read: ${fmt(result.lone.unbatched, 3)} ms unbatched, ${fmt(result.lone.batched, 3)} ms batched (${fmt(result.lone.batched / result.lone.unbatched, 3)}x).\n\n` +
      table(
        ['groups of 100 keys', 'floor: keys/s, p50 ms of a group', '100 calls side by side: keys/s, p50 ms, CPU µs/key', 'many: keys/s, p50 ms, CPU µs/key', 'many vs floor'],
        result.many.map((row) => [
          row.kind === 'hit' ? 'hits' : 'misses (read, compute, save)',
          `${fmt(row.floor.keysPerS)}, ${fmt(row.floor.p50, 2)}`,
          `${fmt(row.calls.keysPerS)}, ${fmt(row.calls.p50, 2)}, ${fmt(row.calls.cpuUs, 0)}`,
          `${fmt(row.many.keysPerS)}, ${fmt(row.many.p50, 2)}, ${fmt(row.many.cpuUs, 0)}`,
          `${fmt(row.many.keysPerS / row.floor.keysPerS, 2)}x`,
        ]),
      ) +
      '\n\nHits of 16 callers against value size:\n\n' +
      table(
        ['value', 'floor: reads/s, p99 ms', 'unbatched: reads/s, p99 ms', 'batched: reads/s, p99 ms', 'unbatched vs floor', 'batched vs floor'],
        result.bySize.map((row) => [
          `${fmt(row.bytes)} B`,
          `${fmt(row.floor.rps)}, ${fmt(row.floor.p99, 2)}`,
          `${fmt(row.unbatched.rps)}, ${fmt(row.unbatched.p99, 2)}`,
          `${fmt(row.batched.rps)}, ${fmt(row.batched.p99, 2)}`,
          `${fmt(row.unbatched.rps / row.floor.rps, 2)}x`,
          `${fmt(row.batched.rps / row.floor.rps, 2)}x`,
        ]),
      ),
  )
}

// ---------------------------------------------------------------------------------------------
// 16. Hit and miss against value size on real daprd with Redis (bench/value-size.mjs)
// ---------------------------------------------------------------------------------------------
const valueSizeSection = async () => {
  const rows = await onDaprd('16. Hit and miss against value size on real daprd with Redis', valueSizeBench)
  if (rows === undefined) return
  json.valueSize = rows
  section(
    '16. Hit and miss against value size on real daprd with Redis (one caller, p50 ms, medians of interleaved runs)',
    table(
      ['value', 'floor hit', 'ours hit', 'hit vs floor', 'floor miss', 'ours miss', 'miss vs floor'],
      rows.map((row) => [
        row.size >= 1e6 ? `${row.size / 1e6} MB` : row.size >= 1e3 ? `${row.size / 1e3} kB` : `${row.size} B`,
        fmt(row.floorHit, 3),
        fmt(row.oursHit, 3),
        `${fmt(row.oursHit / row.floorHit, 2)}x`,
        fmt(row.floorMiss, 3),
        fmt(row.oursMiss, 3),
        `${fmt(row.oursMiss / row.floorMiss, 2)}x`,
      ]),
    ),
  )
}

// ---------------------------------------------------------------------------------------------
// 17. Each Dapr state component on real daprd (bench/components.mjs)
// ---------------------------------------------------------------------------------------------
const componentsSection = async () => {
  const results = await onDaprd('17. Each Dapr state component on real daprd', componentsBench)
  if (results === undefined) return
  json.components = results
  const pair = (row, what, concurrency) => {
    const floor = row.rows[`floor ${what} ${concurrency}`]
    const ours = row.rows[`ours ${what} ${concurrency}`]
    return `${fmt(ours.p50, 3)} / ${fmt(floor.p50, 3)} ms, ${fmt(ours.rps / floor.rps, 2)}x`
  }
  section(
    '17. Each Dapr state component on real daprd (ours / floor p50, and ours / floor requests per second)',
    table(
      ['component', 'TTL', 'ETAG', 'largest value', 'hit, 1 caller', 'hit, 16', 'miss, 1 caller', 'miss, 16'],
      results.map((row) =>
        row.missing !== undefined
          ? [row.flavour, `not measured: ${row.missing}`, '', '', '', '', '', '']
          : [row.flavour, row.ttl ? 'yes' : 'no', row.etag ? 'yes' : 'no', `${row.largestMiB} MiB`, pair(row, 'hit', 1), pair(row, 'hit', 16), pair(row, 'miss', 1), pair(row, 'miss', 16)],
      ),
    ),
  )
}

const scenarios = [['1', remoteHit], ['2', memoryHit], ['3', stampede], ['4', coldMiss], ['5', serializers], ['6', sickStore], ['8', realFloor], ['9', replicaStampede], ['10', keyCost], ['11', failingSource], ['12', invalidationStaleness], ['13', backplaneSection], ['14', tagsSection], ['15', batchingSection], ['16', valueSizeSection], ['17', componentsSection]]
for (const [id, scenario] of scenarios) if (only === undefined || only.includes(id)) await scenario()

writeFileSync(new URL('./results.json', import.meta.url), `${JSON.stringify({ machine, quick, ...json }, null, 2)}\n`)
writeFileSync(new URL('./results.md', import.meta.url), `## Run of ${new Date().toISOString()}\n\n${machine}\n\n${sections.join('\n')}`)
