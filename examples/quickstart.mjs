// The quick start: a slow function cached in a Dapr state store, end to end over HTTP.
//
// It talks to the sidecar at DAPR_HTTP_ENDPOINT / DAPR_HTTP_PORT when one is set; otherwise it
// starts the project's Dapr-compatible test sidecar on a free loopback port, so it runs anywhere
// with no Dapr installed. It imports the package by name, exactly as an application would.
import { InMemoryMetrics, cacheable, daprStore } from 'dapr-state-cache'
import { startTestSidecar } from 'dapr-state-cache/testing'

const external = Boolean(process.env.DAPR_HTTP_ENDPOINT || process.env.DAPR_HTTP_PORT)
const sidecar = external ? undefined : await startTestSidecar({ stores: ['cache'] })
const store = daprStore({ storeName: 'cache', ...(sidecar ? { daprUrl: sidecar.url } : {}) })
const metrics = new InMemoryMetrics()

const ms = (start) => `${(performance.now() - start).toFixed(1)} ms`
const line = (label, value) => console.log(`  ${label.padEnd(34)} ${value}`)

let computations = 0
const priceQuote = cacheable({ store, metrics, ttlSeconds: 60, name: 'quickstart.price_quote' })(
  async function priceQuote(sku, quantity) {
    computations++
    await new Promise((resolve) => setTimeout(resolve, 250)) // a slow service
    return { sku, quantity, total: Math.round(quantity * 19.99 * 100) / 100, quotedAt: new Date() }
  },
)

try {
  console.log(`dapr-state-cache quick start: state store "cache" at ${store.url}${sidecar ? ' (embedded test sidecar)' : ''}\n`)
  await store.waitUntilReady({ timeoutMs: 10_000 })

  let start = performance.now()
  const first = await priceQuote('sku-42', 3)
  line('first call (miss, computes):', `${ms(start)}  total ${first.total}`)

  start = performance.now()
  const second = await priceQuote('sku-42', 3)
  line('same arguments (hit):', `${ms(start)}  quotedAt is a ${second.quotedAt.constructor.name} again`)

  const hits = []
  for (let i = 0; i < 200; i++) {
    const t = performance.now()
    await priceQuote('sku-42', 3)
    hits.push(performance.now() - t)
  }
  hits.sort((a, b) => a - b)
  line('200 more hits, median / p99:', `${hits[100].toFixed(2)} ms / ${hits[197].toFixed(2)} ms`)

  computations = 0
  start = performance.now()
  const burst = await Promise.all(Array.from({ length: 50 }, () => priceQuote('sku-7', 1)))
  line('50 concurrent calls, new key:', `${ms(start)}  computed ${computations} time(s), ${burst.length} results`)

  await priceQuote.invalidate('sku-42', 3)
  computations = 0
  start = performance.now()
  await priceQuote('sku-42', 3)
  line('after invalidate (computes again):', `${ms(start)}  computed ${computations} time(s)`)

  const stats = metrics.getStats()
  console.log('\n  metrics:')
  line('hits / misses / writes / errors', `${stats.hits} / ${stats.misses} / ${stats.writes} / ${stats.errors}`)
  line('calls that joined one in flight', String(stats.coalesced))
  line('hit ratio', `${(stats.hitRatio * 100).toFixed(0)}%`)
  line('average hit / miss latency', `${stats.avgHitLatencyMs.toFixed(2)} ms / ${stats.avgMissLatencyMs.toFixed(2)} ms`)
} finally {
  await store.close()
  await sidecar?.close()
}
