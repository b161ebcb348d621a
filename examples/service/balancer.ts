/**
 * What a Kubernetes Service gives the replicas: one address, requests spread round-robin. A replica
 * that refuses connections (killed, not yet up) is skipped for a second, and a request it could not
 * answer goes to the next one. Updates carry a request id (`x-request-id`) that makes sending one
 * again safe: the source applies it once.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pool } from 'undici'

export interface Balancer {
  readonly url: string
  readonly close: () => Promise<void>
}

const TRIES = 3

export const startBalancer = async (upstreams: ReadonlyArray<string>): Promise<Balancer> => {
  const pools = upstreams.map((origin) => new Pool(origin, { connections: 64, keepAliveTimeout: 30_000 }))
  const downUntil = upstreams.map(() => 0)
  let next = 0
  const pick = (): number => {
    for (let step = 0; step < pools.length; step++) {
      const index = (next + step) % pools.length
      if (downUntil[index] === undefined || (downUntil[index] ?? 0) <= Date.now()) {
        next = index + 1
        return index
      }
    }
    next++
    return next % pools.length
  }
  const server = createServer((request, response) => {
    const chunks: Array<Buffer> = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      void (async () => {
        const method = request.method === 'PUT' ? 'PUT' : 'GET'
        const header = request.headers['x-request-id']
        const headers = typeof header === 'string' ? { 'x-request-id': header } : {}
        let lastError: unknown
        for (let attempt = 0; attempt < TRIES; attempt++) {
          const index = pick()
          try {
            const answer = await (pools[index] as Pool).request({ method, path: request.url ?? '/', headers, body: chunks.length === 0 ? null : Buffer.concat(chunks), headersTimeout: 10_000, bodyTimeout: 10_000 })
            const body = await answer.body.text()
            response.writeHead(answer.statusCode, { 'content-type': 'application/json' }).end(body)
            return
          } catch (error) {
            lastError = error
            const refused = (error as { code?: string }).code === 'ECONNREFUSED'
            if (refused) downUntil[index] = Date.now() + 1_000
          }
        }
        response.writeHead(503, { 'content-type': 'application/json' }).end(JSON.stringify({ error: `no replica answered: ${String(lastError)}` }))
      })()
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.all(pools.map((pool) => pool.destroy()))
    },
  }
}
