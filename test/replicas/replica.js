// One replica of a service, as its own Node process: its own `daprStore` (to its own sidecar, or a
// shared one), its own cached function, steered by the test over IPC. The library is the build in
// .test-build/cjs, loaded as a user's process would load it.
//
// Messages in: { type: 'call', requestId, id, callers, fnMs }, { type: 'invalidate', requestId, id },
// { type: 'stats', requestId }. Every answer carries the requestId. The first message out is
// { type: 'ready' }. Configuration comes in REPLICA_CONFIG (JSON): daprUrl, name, lease, generations,
// l1, refreshAhead, ttlSeconds, backplane (backplane options: listen, heartbeatMs, ...), and source: a URL whose body is the source's version, read by each
// computation before it waits `fnMs` (the value then carries it as `version`).
// REPLICA_LIB names another build to load (the benchmark uses dist/cjs).
const path = require('node:path')
const lib = require(process.env.REPLICA_LIB ?? path.join(__dirname, '..', '..', '.test-build', 'cjs', 'index.js'))

const config = JSON.parse(process.env.REPLICA_CONFIG ?? '{}')
const store = lib.daprStore({ daprUrl: config.daprUrl, env: {}, timeoutMs: 2_000, breaker: false })
const metrics = new lib.InMemoryMetrics()
let computations = 0
let fnMs = 0

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

const options = { store, name: config.name ?? 'replicas.value', metrics, logger: { warn: () => undefined } }
if (config.lease !== undefined) options.lease = config.lease
if (config.generations !== undefined) options.generations = config.generations
if (config.l1 !== undefined) options.l1 = config.l1
if (config.refreshAhead !== undefined) options.refreshAhead = config.refreshAhead
if (config.ttlSeconds !== undefined) options.ttlSeconds = config.ttlSeconds
// The backplane serves daprd's calls on config.backplane.listen (the port daprd's --app-port names).
const bus = config.backplane === undefined ? undefined : lib.backplane({ daprUrl: config.daprUrl, logger: { warn: () => undefined }, ...config.backplane })
if (bus !== undefined) options.backplane = bus
// With config.tags, each value carries the tags `item:<id>` and `all`.
if (config.tags === true) options.tags = ([id]) => [`item:${id}`, 'all']
const value = lib.cacheable(options)(async (id) => {
  computations++
  const startedAt = Date.now()
  const version = config.source === undefined ? {} : { version: Number(await (await fetch(config.source)).text()) }
  await sleep(fnMs)
  return { id, by: process.pid, computation: computations, startedAt, ...version }
})

const answer = (requestId, body) => process.send?.({ requestId, ...body })

process.on('message', async (message) => {
  switch (message.type) {
    case 'call': {
      fnMs = message.fnMs ?? 0
      const started = Date.now()
      const results = await Promise.all(
        Array.from({ length: message.callers ?? 1 }, async () => {
          const got = await value(message.id)
          return { got, ms: Date.now() - started }
        }),
      )
      answer(message.requestId, { type: 'result', values: results.map((result) => result.got), ms: results.map((result) => result.ms) })
      break
    }
    case 'invalidate':
      try {
        await value.invalidate(message.id)
        answer(message.requestId, { type: 'invalidated' })
      } catch (error) {
        answer(message.requestId, { type: 'invalidated', error: String(error) })
      }
      break
    case 'invalidateTag':
      try {
        const result = await value.invalidateTag(message.tag)
        answer(message.requestId, { type: 'invalidatedTag', deleted: result.deleted })
      } catch (error) {
        answer(message.requestId, { type: 'invalidatedTag', error: String(error) })
      }
      break
    case 'stats':
      answer(message.requestId, { type: 'stats', computations, pending: value.pending(), stats: metrics.getStats(), bus: bus?.stats() })
      break
    case 'close':
      await store.close()
      await bus?.close()
      process.exit(0)
  }
})

process.send?.({ type: 'ready', pid: process.pid })
