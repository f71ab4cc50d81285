using Akka.Actor;
using Akka.Configuration;
using Supervisor.Cluster;

namespace Supervisor.Cluster.Tests;

/// <summary>Every cluster message goes through <see cref="ClusterMessageSerializer"/> and comes back equal.</summary>
public sealed class SerializerTests(SerializerTests.SystemFixture fixture) : IClassFixture<SerializerTests.SystemFixture>
{
    /// <summary>One actor system (cluster provider, never joined) for the whole class.</summary>
    public sealed class SystemFixture : IDisposable
    {
        public ActorSystem System { get; } = ActorSystem.Create("supervisor",
            SupervisorClusterConfig.ForClient([], port: 0).WithFallback(ConfigurationFactory.ParseString("akka.loglevel = WARNING")));

        public void Dispose() => System.Terminate().Wait(TimeSpan.FromSeconds(10));
    }

    private readonly ActorSystem _system = fixture.System;

    private static readonly WorkloadSpec Spec = new("web", "/srv/bundles/web", "on-failure:3",
        new PlacementConstraints("gpu", new Dictionary<string, string> { ["zone"] = "a" }));

    public static TheoryData<string> Samples() => new(AllSamples().Select(s => s.GetType().Name));

    private static IEnumerable<object> AllSamples() =>
    [
        new RunWorkload(Spec),
        new RemoveWorkload("web"),
        new GetWorkload("web"),
        new MigrateWorkload("web", "akka.tcp://supervisor@127.0.0.1:4056", true),
        new WorkloadState(Spec, "akka.tcp://supervisor@127.0.0.1:4055", WorkloadPhases.Placed, null, 2),
        new WorkloadStatus("web", null, WorkloadPhases.Pending, "none fits", 0, Spec),
        new WorkloadCommandFailed("web", "migrate", "not placed"),
        new MigrationReport("web", "a", "b", true, null, "b", 12345, 1.5, 2.5, 3.5, 4.5),
        new NodeLoad("a", ["supervisor", "gpu"], new Dictionary<string, string> { ["zone"] = "a" }, 3, 1L << 33, 17),
        new PlaceContainer(Spec),
        new ContainerPlaced("web", "a", 42),
        new PlaceFailed("web", "a", "bundle missing"),
        new RemoveContainerFromNode("web"),
        new ContainerRemovedFromNode("web", "a", null),
        new ChooseNode(Spec.Constraints, ["b"], Forwarded: true),
        new NodeChoice(null, "no node"),
        ListNodeContainers.Instance,
        new NodeContainerList("a", [new NodeContainerEntry("web", "running", 42)]),
        ListClusterContainers.Instance,
        new ClusterContainerList([new ClusterContainerEntry("a", "web", "running", 42)], ["c"]),
        new MigrateOut("web", "b", false),
        new IncomingMigration("m1", "web", "/srv/bundles/web", "always", null),
        new ImageChunk("m1", "pages-1.img", 65536, [1, 2, 3, 0, 255]),
        new RestoreIncoming("m1", true),
        new AbortIncoming("m1"),
        new MigrationStep("m1", false, "boom", 0),
        GetPlacementView.Instance,
        new PlacementView("a", "b", [new PlacementViewEntry(new NodeLoad("b", ["supervisor"], new Dictionary<string, string>(), 2, 1L << 30, 5), 3)]),
    ];

    [Fact]
    public void Every_handled_type_has_a_sample()
    {
        Assert.Equal(ClusterMessageSerializer.Types.OrderBy(t => t.Name), AllSamples().Select(s => s.GetType()).OrderBy(t => t.Name));
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Round_trips_through_the_bound_serializer(string typeName)
    {
        var msg = AllSamples().Single(s => s.GetType().Name == typeName);
        var serializer = _system.Serialization.FindSerializerFor(msg);
        Assert.IsType<ClusterMessageSerializer>(serializer);
        var manifest = Akka.Serialization.Serialization.ManifestFor(serializer, msg);
        var bytes = serializer.ToBinary(msg);
        var back = _system.Serialization.Deserialize(bytes, serializer.Identifier, manifest);
        Assert.Equal(Normalize(msg), Normalize(back));
    }

    [Fact]
    public void Messages_from_a_node_without_the_placement_fields_read_with_their_defaults()
    {
        var serializer = (ClusterMessageSerializer)_system.Serialization.FindSerializerForType(typeof(NodeLoad));
        var load = Assert.IsType<NodeLoad>(serializer.FromBinary(
            """{"address":"a","roles":["supervisor"],"labels":{},"runningContainers":3,"freeMemoryBytes":1024}"""u8.ToArray(), "NodeLoad"));
        Assert.Equal(3, load.RunningContainers);
        Assert.Equal(0, load.CompletedPlacements);
        var choose = Assert.IsType<ChooseNode>(serializer.FromBinary(
            """{"constraints":{"role":null,"labels":{}},"exclude":["b"]}"""u8.ToArray(), "ChooseNode"));
        Assert.False(choose.Forwarded);
        Assert.Equal(["b"], choose.Exclude);
    }

    [Fact]
    public void An_unknown_manifest_is_refused()
    {
        var serializer = (ClusterMessageSerializer)_system.Serialization.FindSerializerForType(typeof(NodeLoad));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "Nope"));
    }

    /// <summary>Records with collections compare by reference; their JSON text compares by content.</summary>
    private static string Normalize(object o) =>
        o.GetType().Name + System.Text.Json.JsonSerializer.Serialize(o, o.GetType(), new System.Text.Json.JsonSerializerOptions { TypeInfoResolver = new System.Text.Json.Serialization.Metadata.DefaultJsonTypeInfoResolver() });
}
