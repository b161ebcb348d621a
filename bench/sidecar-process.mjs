// The test sidecar as a child process of the benchmark, steered over IPC (faults, request counts).
import { startTestSidecar } from 'dapr-state-cache/testing'

let sidecar
process.on('message', async (message) => {
  const reply = (payload = {}) => process.send({ id: message.id, ...payload })
  switch (message.command) {
    case 'start':
      sidecar = await startTestSidecar({ stores: ['cache'], flavour: message.flavour ?? 'in-memory' })
      return reply({ url: sidecar.url })
    case 'seed':
      for (const [key, json] of message.entries) sidecar.state('cache').set(key, json)
      return reply()
    case 'fault':
      sidecar.clearFaults()
      if (message.fault !== null) sidecar.fault(message.fault)
      return reply()
    case 'refuse':
      await (message.on ? sidecar.refuseConnections() : sidecar.acceptConnections())
      return reply()
    case 'requests': {
      const count = sidecar.requests.length
      sidecar.clearRequests()
      return reply({ count })
    }
    case 'close':
      await sidecar.close()
      reply()
      process.disconnect?.()
      return undefined
  }
})
