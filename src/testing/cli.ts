#!/usr/bin/env node
/**
 * `dapr-state-cache-sidecar`: the test sidecar as a command, for local development without Dapr.
 *
 *   DAPR_API_TOKEN=secret dapr-state-cache-sidecar --port 3500 --store cache --store sessions --flavour redis
 *
 * Prints the address it listens on, warns when that is not loopback, and closes cleanly on SIGINT
 * or SIGTERM.
 */
import { isIP } from 'node:net'
import type { SidecarFlavour } from './sidecar.js'
import { SIDECAR_FLAVOURS, startTestSidecar } from './sidecar.js'

const usage = `usage: dapr-state-cache-sidecar [--port 3500] [--host 127.0.0.1] [--store NAME ...] [--token TOKEN] [--app-id ID] [--flavour in-memory|redis|redis-cluster|postgres] [--app-port PORT]

A Dapr-compatible state API on loopback, in memory, for development and tests.
  --port     port to listen on (default 3500; 0 picks a free one)
  --host     address to bind (default 127.0.0.1)
  --store    a state store name; repeat for several (default: cache)
  --token    require this dapr-api-token (default: DAPR_API_TOKEN, else none; a token given
             here is visible in the process list, the environment variable is not)
  --app-id   the app id /v1.0/metadata reports (default: test-app)
  --flavour  the Dapr state component to behave as: in-memory (default), redis, redis-cluster or postgres
  --app-port the app's port, as daprd's: its pub/sub subscriptions (component "pubsub") are
             asked for and delivered there`

interface Parsed {
  port: number
  host: string
  stores: Array<string>
  token: string | undefined
  appId: string | undefined
  flavour: SidecarFlavour
  appPort: number | undefined
}

const parse = (args: ReadonlyArray<string>): Parsed | string => {
  const fromEnv = process.env['DAPR_API_TOKEN']
  const parsed: Parsed = { port: 3500, host: '127.0.0.1', stores: [], token: fromEnv === '' ? undefined : fromEnv, appId: undefined, flavour: 'in-memory', appPort: undefined }
  for (let i = 0; i < args.length; i++) {
    const flag = args[i]
    if (flag === '--help' || flag === '-h') return usage
    const value = args[i + 1]
    if (value === undefined || value.startsWith('--')) return `${flag ?? ''} needs a value\n\n${usage}`
    i++
    switch (flag) {
      case '--port': {
        const port = Number(value)
        if (!Number.isInteger(port) || port < 0 || port > 65535) return `--port must be a port number, got ${value}`
        parsed.port = port
        break
      }
      case '--app-port': {
        const port = Number(value)
        if (!Number.isInteger(port) || port <= 0 || port > 65535) return `--app-port must be a port number, got ${value}`
        parsed.appPort = port
        break
      }
      case '--host':
        parsed.host = value
        break
      case '--store':
        parsed.stores.push(value)
        break
      case '--token':
        parsed.token = value
        break
      case '--app-id':
        parsed.appId = value
        break
      case '--flavour':
        if (!(SIDECAR_FLAVOURS as ReadonlyArray<string>).includes(value)) return `--flavour must be one of ${SIDECAR_FLAVOURS.join(', ')}, got ${value}`
        parsed.flavour = value as SidecarFlavour
        break
      default:
        return `unknown option ${flag ?? ''}\n\n${usage}`
    }
  }
  return parsed
}

/** Whether only this machine can reach `host`: `localhost`, 127.0.0.0/8 or ::1. */
const isLoopback = (host: string): boolean =>
  host === 'localhost' || host === '::1' || (isIP(host) === 4 && host.startsWith('127.')) || host === '::ffff:127.0.0.1'

const main = async (): Promise<void> => {
  const parsed = parse(process.argv.slice(2))
  if (typeof parsed === 'string') {
    const help = parsed === usage
    ;(help ? console.log : console.error)(parsed)
    process.exitCode = help ? 0 : 2
    return
  }
  const stores = parsed.stores.length === 0 ? ['cache'] : parsed.stores
  const sidecar = await startTestSidecar({ port: parsed.port, host: parsed.host, stores, apiToken: parsed.token, appId: parsed.appId, flavour: parsed.flavour, appPort: parsed.appPort })
  console.log(`dapr-state-cache test sidecar listening on ${sidecar.url} (${parsed.flavour} state stores: ${stores.join(', ')}${parsed.token === undefined ? '' : '; token required'}${parsed.appPort === undefined ? '' : `; delivering pub/sub to port ${parsed.appPort}`})`)
  if (!isLoopback(parsed.host)) {
    console.warn(
      `warning: ${parsed.host} is not a loopback address: other machines can reach this sidecar, which is for development and tests${parsed.token === undefined ? ', and no token is required (set DAPR_API_TOKEN)' : ''}`,
    )
  }
  const stop = (): void => {
    void sidecar.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error))
  process.exit(1)
})
