// The quick start: a slow function cached in a Dapr state store, end to end over HTTP.
//
// It talks to the sidecar at DAPR_HTTP_ENDPOINT / DAPR_HTTP_PORT when one is set; otherwise it
// starts the project's Dapr-compatible test sidecar on a free loopback port, so it runs anywhere
// with no Dapr installed. It imports the package by name, exactly as an application would.
// With OTEL=console it also prints the OpenTelemetry metrics and spans, through the SDK's console
// exporters.
import { InMemoryMetrics, OpenTelemetryMetrics, cacheable, daprStore } from 'dapr-state-cache'
import { startTestSidecar } from 'dapr-state-cache/testing'

const otel = process.env.OTEL === 'console' ? await consoleTelemetry() : undefined

const external = Boolean(process.env.DAPR_HTTP_ENDPOINT || process.env.DAPR_HTTP_PORT)
const sidecar = external ? undefined : await startTestSidecar({ stores: ['cache'] })
const store = daprStore({ storeName: 'cache', ...(sidecar ? { daprUrl: sidecar.url } : {}) })
const metrics = new InMemoryMetrics()

const ms = (start) => `${(performance.now() - start).toFixed(1)} ms`
const line = (label, value) => console.log(`  ${label.padEnd(34)} ${value}`)

let computations = 0
const priceQuote = cacheable({
  store,
  metrics: otel ? [metrics, otel.metrics] : metrics,
  ...(otel ? { tracer: otel.tracer } : {}),
  ttlSeconds: 60,
  name: 'quickstart.price_quote',
})(
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
  for (let i = 0; i < (otel ? 2 : 200); i++) {
    const t = performance.now()
    await priceQuote('sku-42', 3)
    hits.push(performance.now() - t)
  }
  hits.sort((a, b) => a - b)
  const at = (q) => hits[Math.min(hits.length - 1, Math.floor(q * hits.length))].toFixed(2)
  line(`${hits.length} more hits, median / p99:`, `${at(0.5)} ms / ${at(0.99)} ms`)

  computations = 0
  start = performance.now()
  const burst = await Promise.all(Array.from({ length: otel ? 5 : 50 }, () => priceQuote('sku-7', 1)))
  line(`${burst.length} concurrent calls, new key:`, `${ms(start)}  computed ${computations} time(s), ${burst.length} results`)

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
  await otel?.shutdown()
}

/**
 * The OpenTelemetry SDK as an application would wire it, with exporters that print one line per
 * span and per data point (the SDK's own console exporters print whole objects).
 */
async function consoleTelemetry() {
  const { AggregationTemporality, InMemoryMetricExporter, MeterProvider, PeriodicExportingMetricReader } = await import('@opentelemetry/sdk-metrics')
  const { BasicTracerProvider, SimpleSpanProcessor } = await import('@opentelemetry/sdk-trace-base')
  const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
  const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 3_600_000 })
  const meterProvider = new MeterProvider({ readers: [reader] })
  const printSpans = {
    export(spans, done) {
      for (const span of spans) {
        const ms = (span.duration[0] * 1e3 + span.duration[1] / 1e6).toFixed(2)
        const result = span.attributes['cache.result'] ? ` result=${span.attributes['cache.result']}` : ''
        const indent = span.name.startsWith('cache ') ? '  ' : '      '
        console.log(`${indent}span ${span.name}${result} ${ms} ms`)
      }
      done({ code: 0 })
    },
    shutdown: async () => undefined,
  }
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(printSpans)] })
  return {
    metrics: new OpenTelemetryMetrics({ meter: meterProvider.getMeter('quickstart') }),
    tracer: tracerProvider.getTracer('quickstart'),
    shutdown: async () => {
      await reader.forceFlush()
      console.log('\n  OpenTelemetry metrics:')
      for (const metric of metricExporter.getMetrics().at(-1)?.scopeMetrics.flatMap((scope) => scope.metrics) ?? []) {
        for (const point of metric.dataPoints) {
          const value = typeof point.value === 'number' ? point.value : `count ${point.value.count}, sum ${Number.isInteger(point.value.sum) ? point.value.sum : point.value.sum.toFixed(4)}`
          const attributes = Object.entries(point.attributes).map(([k, v]) => `${k}=${v}`).join(' ')
          console.log(`    ${metric.descriptor.name} [${metric.descriptor.unit}] ${attributes}: ${value}`)
        }
      }
      await meterProvider.shutdown()
      await tracerProvider.shutdown()
    },
  }
}
