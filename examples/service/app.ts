/**
 * The service: a small HTTP API over the slow source, one process per replica, each beside its own
 * Dapr sidecar. `GET /items/:id` answers from the cache (the in-process tier, the lease, fail-safe,
 * tags and the backplane on); `PUT /items/:id` updates the item at the source and invalidates it.
 * With `CACHE=off` the same handlers call the source every time: the baseline.
 *
 * Configuration, from the environment as a deployment gives it: `PORT` (the app's port, which is
 * daprd's `--app-port`), `DAPR_HTTP_PORT` (the sidecar; read by the library), `SOURCE_URL`,
 * `CACHE` (`on` or `off`), `TTL_SECONDS` (default 10), `REPLICA` (a name for the logs).
 */
import { createServer } from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { InMemoryMetrics, backplane, cacheable, daprStore } from 'dapr-state-cache'

interface Item {
  readonly id: number
  readonly version: number
  readonly name: string
  readonly price: number
}

const port = Number(process.env['PORT'] ?? '3000')
const sourceUrl = process.env['SOURCE_URL'] ?? 'http://127.0.0.1:4000'
const cached = process.env['CACHE'] !== 'off'
const ttlSeconds = Number(process.env['TTL_SECONDS'] ?? '10')
const replica = process.env['REPLICA'] ?? String(process.pid)

/** The source's read: 20-50 ms. A failure is thrown, and never cached. */
const fetchItem = async (id: number): Promise<Item> => {
  const response = await fetch(`${sourceUrl}/items/${id}`, { signal: AbortSignal.timeout(5_000) })
  if (!response.ok) throw new Error(`the source answered ${response.status} for item ${id}`)
  return (await response.json()) as Item
}

const metrics = new InMemoryMetrics()
// One backplane per process, mounted in this server (daprd delivers to the app's port); heard
// within a second, distrusted after 1.5 s of silence.
const bus = cached ? backplane({ heartbeatMs: 500, suspectAfterMs: 1_500, logger: { warn: (message: string) => console.warn(`[${replica}] ${message}`) } }) : undefined
// The sidecar is local: a short deadline, and a breaker that tries again after a second (default 5 s).
const store = daprStore({ timeoutMs: 500, breaker: { cooldownMs: 1_000 } })

const getItem = cacheable({
  store,
  name: 'catalog.item',
  ttlSeconds,
  metrics,
  l1: { maxEntries: 10_000, ttlSeconds: 5 },
  lease: { leaseSeconds: 5, maxWaitMs: 2_000 },
  failSafe: { maxStaleSeconds: 300 },
  tags: ([id]: [number]) => [`item:${id}`],
  backplane: bus,
  logger: { warn: (message: string) => console.warn(`[${replica}] ${message}`) },
})(fetchItem)

const read = (id: number): Promise<Item> => (cached ? getItem(id) : fetchItem(id))

/** Updates the item at the source, then drops it from the cache (here, in the store, and on every replica). */
const update = async (id: number, requestId: string | undefined): Promise<{ version: number; invalidated: boolean }> => {
  const query = requestId === undefined ? '' : `?request=${encodeURIComponent(requestId)}`
  const response = await fetch(`${sourceUrl}/items/${id}/bump${query}`, { method: 'POST', signal: AbortSignal.timeout(5_000) })
  if (!response.ok) throw new Error(`the source answered ${response.status} to the update of item ${id}`)
  const { version } = (await response.json()) as { version: number }
  if (!cached) return { version, invalidated: true }
  try {
    await getItem.invalidate(id)
    return { version, invalidated: true }
  } catch (error) {
    // The update stands; the cache keeps the old value until its TTL ends. Said so in the answer.
    console.warn(`[${replica}] item ${id}: updated at the source, not invalidated: ${String(error)}`)
    return { version, invalidated: false }
  }
}

const send = (response: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
  response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(body))
}

const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
  if (bus?.handler(request, response) === true) return
  const url = request.url ?? '/'
  const item = /^\/items\/(\d+)$/.exec(url)
  if (item !== null) {
    const id = Number(item[1])
    if (request.method === 'GET') {
      send(response, 200, { ...(await read(id)), replica })
      return
    }
    if (request.method === 'PUT') {
      // The caller's request id makes a retried update safe: the source applies it once.
      const header = request.headers['x-request-id']
      const { version, invalidated } = await update(id, typeof header === 'string' ? header : undefined)
      send(response, 200, { id, version, invalidated, replica })
      return
    }
  }
  if (url === '/stats') {
    send(response, 200, { replica, cached, stats: metrics.getStats(), bus: bus?.stats(), pending: cached ? getItem.pending() : 0 })
    return
  }
  if (url === '/healthz') {
    send(response, 200, { replica })
    return
  }
  send(response, 404, { error: 'not found' })
}

const server = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => send(response, 502, { error: String(error), replica }))
})
server.keepAliveTimeout = 60_000
// Every interface, as a pod needs (the Service and the probes reach the pod's address).
server.listen(port, process.env['HOST'] ?? '0.0.0.0', () => {
  console.log(`[${replica}] listening on ${port}, cache ${cached ? 'on' : 'off'}`)
  process.send?.({ type: 'ready' })
})

const shutdown = (): void => {
  server.close()
  void Promise.all([store.close(), bus?.close()]).finally(() => process.exit(0))
}
process.on('SIGTERM', shutdown)
process.on('SIGINT', shutdown)
// Started by `run.ts`: gone with it.
process.on('disconnect', shutdown)
