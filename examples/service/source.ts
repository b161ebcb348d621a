/**
 * The slow source the service caches: a catalogue of items, each with a version that every update
 * raises. A read takes 20-50 ms, as a database or a remote API would. It keeps what the checks
 * need: every read it served (which version of which item, when) and every update (when each
 * version began), so that each answer of the service can be held to the rules of the cache.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SourceRead {
  readonly id: number
  readonly version: number
  readonly at: number
}

export interface SourceLog {
  /** Every read served. */
  readonly reads: ReadonlyArray<SourceRead>
  /** For each item, when each version after the first began (`[version, at]`); version 1 is from the start. */
  readonly versions: Readonly<Record<string, ReadonlyArray<readonly [number, number]>>>
}

export interface Source {
  readonly url: string
  readonly log: () => SourceLog
  readonly close: () => Promise<void>
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Starts the source on a free loopback port (or `port`). */
export const startSource = async (port = 0): Promise<Source> => {
  const versions = new Map<number, number>()
  const changes = new Map<number, Array<readonly [number, number]>>()
  const reads: Array<SourceRead> = []
  const bumps = new Map<string, number>()
  const server = createServer((request, response) => {
    const [pathname = '', query = ''] = (request.url ?? '').split('?')
    const match = /^\/items\/(\d+)(\/bump)?$/.exec(pathname)
    const id = Number(match?.[1])
    if (match === null || !Number.isSafeInteger(id)) {
      response.writeHead(404).end()
      return
    }
    if (request.method === 'POST' && match[2] === '/bump') {
      // An update sent again (its first answer was lost) is applied once: the same version again.
      const requestId = new URLSearchParams(query).get('request')
      const applied = requestId === null ? undefined : bumps.get(requestId)
      const version = applied ?? (versions.get(id) ?? 1) + 1
      if (applied === undefined) {
        versions.set(id, version)
        changes.set(id, [...(changes.get(id) ?? []), [version, Date.now()]])
        if (requestId !== null) bumps.set(requestId, version)
      }
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, version }))
      return
    }
    // 20-50 ms, spread evenly: a query, or a call to another service.
    void sleep(20 + Math.random() * 30).then(() => {
      const version = versions.get(id) ?? 1
      reads.push({ id, version, at: Date.now() })
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ id, version, name: `item ${id}`, price: (id % 97) + 0.99 }))
    })
  })
  server.keepAliveTimeout = 60_000
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    log: () => ({ reads: [...reads], versions: Object.fromEntries([...changes].map(([id, list]) => [String(id), [...list]])) }),
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}
