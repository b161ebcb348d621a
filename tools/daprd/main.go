// Command daprd is the real Dapr runtime, built from Dapr's own Go modules with only the
// components dapr-state-cache tests against: the in-memory, Redis, PostgreSQL (v2) and MongoDB
// state stores, and the in-memory and Redis pub/sub. Everything else Dapr ships is left out, which
// keeps the build small; the runtime itself is Dapr's app.Run, unchanged.
package main

import (
	inmemorypubsub "github.com/dapr/components-contrib/pubsub/in-memory"
	redispubsub "github.com/dapr/components-contrib/pubsub/redis"
	inmemorystate "github.com/dapr/components-contrib/state/in-memory"
	mongodbstate "github.com/dapr/components-contrib/state/mongodb"
	postgresv2 "github.com/dapr/components-contrib/state/postgresql/v2"
	redisstate "github.com/dapr/components-contrib/state/redis"
	"github.com/dapr/dapr/cmd/daprd/app"
	"github.com/dapr/dapr/pkg/components"
	pubsubLoader "github.com/dapr/dapr/pkg/components/pubsub"
	stateLoader "github.com/dapr/dapr/pkg/components/state"
)

func main() {
	stateLoader.DefaultRegistry.RegisterComponent(inmemorystate.NewInMemoryStateStore, "in-memory")
	stateLoader.DefaultRegistry.RegisterComponent(redisstate.NewRedisStateStore, "redis")
	// state.postgresql at version v2 only: the version for new deployments (v1 is left out).
	stateLoader.DefaultRegistry.RegisterComponentWithVersions("postgresql", components.Versioning{
		Preferred: components.VersionConstructor{Version: "v2", Constructor: postgresv2.NewPostgreSQLStateStore},
		Default:   "v2",
	})
	stateLoader.DefaultRegistry.RegisterComponent(mongodbstate.NewMongoDB, "mongodb")
	pubsubLoader.DefaultRegistry.RegisterComponent(inmemorypubsub.New, "in-memory")
	pubsubLoader.DefaultRegistry.RegisterComponent(redispubsub.NewRedisStreams, "redis")
	app.Run()
}
