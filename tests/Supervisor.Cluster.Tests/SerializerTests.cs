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

    /// <summary>A workload from a control gateway: the checked config travels, with the requester's role and a pinned node.</summary>
    private static readonly WorkloadSpec Carried = new("api", "/srv/bundles/api", "always",
        new PlacementConstraints(null, new Dictionary<string, string> { ["zone"] = "b" }, "akka.tcp://supervisor@127.0.0.1:4056"),
        """{"ociVersion":"1.2.0","root":{"path":"/srv/bundles/api/rootfs"},"process":{"args":["/bin/sh","-c","echo \"hi\""]}}""",
        AdmissionRoles.Operator);

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
        new GetNodeContainer("web"),
        new NodeContainerState("a", "web", null, "running", 42, "always", 1, false, false, 137, true, "/b", "/b/rootfs", 1700000000000, "root",
            new Dictionary<string, string> { ["k"] = "v" }),
        new NodeContainerCommand("web", NodeCommandVerbs.Kill, 9, true),
        new NodeCommandResult("web", "a", "container web does not exist"),
    ];

    [Fact]
    public void A_workload_carrying_its_checked_config_round_trips_with_every_new_field()
    {
        foreach (object msg in new object[]
                 {
                     new RunWorkload(Carried), new PlaceContainer(Carried), new WorkloadState(Carried, null, WorkloadPhases.Pending, "none fits", 0),
                     new MigrateOut("api", "b", true, Carried.Config, Carried.AdmitAs),
                     new IncomingMigration("m2", "api", "/srv/bundles/api", "always", null, Carried.Config, Carried.AdmitAs),
                 })
        {
            var serializer = _system.Serialization.FindSerializerFor(msg);
            var back = _system.Serialization.Deserialize(serializer.ToBinary(msg), serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, msg));
            Assert.Equal(Normalize(msg), Normalize(back));
        }
        var run = (RunWorkload)RoundTrip(new RunWorkload(Carried));
        Assert.Equal(Carried.Config, run.Spec.Config);
        Assert.Equal("operator", run.Spec.AdmitAs);
        Assert.Equal("akka.tcp://supervisor@127.0.0.1:4056", run.Spec.Constraints.Node);
    }

    [Fact]
    public void Messages_of_an_older_node_without_the_new_fields_still_read()
    {
        var serializer = (ClusterMessageSerializer)_system.Serialization.FindSerializerForType(typeof(RunWorkload));
        var run = (RunWorkload)serializer.FromBinary(
            """{"spec":{"id":"web","bundle":"/srv/bundles/web","restart":"always","constraints":{"role":null,"labels":{"zone":"a"}}}}"""u8.ToArray(), "RunWorkload");
        Assert.Equal("/srv/bundles/web", run.Spec.Bundle);
        Assert.Null(run.Spec.Config);
        Assert.Null(run.Spec.AdmitAs);
        Assert.Null(run.Spec.Constraints.Node);
        Assert.Equal("a", run.Spec.Constraints.Labels["zone"]);

        var incoming = (IncomingMigration)serializer.FromBinary(
            """{"migrationId":"m1","id":"web","bundle":"/b","restart":"no","sharedImages":null}"""u8.ToArray(), "IncomingMigration");
        Assert.Null(incoming.Config);
        var entry = (NodeContainerList)serializer.FromBinary("""{"node":"a","containers":[{"id":"web","status":"running","pid":7}]}"""u8.ToArray(), "NodeContainerList");
        Assert.Null(entry.Containers[0].Bundle);
        var migrate = (MigrateOut)serializer.FromBinary("""{"id":"web","toNode":"b","tcpEstablished":false}"""u8.ToArray(), "MigrateOut");
        Assert.Null(migrate.Config);
    }

    [Fact]
    public void Gossip_of_the_largest_workload_states_fits_the_cluster_frame()
    {
        // The largest config allowed, all of it characters the JSON encoder escapes.
        var config = new string('"', (WorkloadLimits.MaxConfigBytes - 2) / 6);
        Assert.True(WorkloadLimits.ReplicatedSize(config) > WorkloadLimits.MaxConfigBytes - 6);
        var spec = Carried with { Config = config };
        Assert.Null(WorkloadLimits.Check(spec));
        var state = new WorkloadState(spec, "akka.tcp://supervisor@127.0.0.1:4056", WorkloadPhases.Placed, new string('e', 512), 3);
        var bytes = _system.Serialization.FindSerializerFor(state).ToBinary(state);
        // 1 KiB per entry for DistributedData's envelope (key, register, pruning and version fields).
        Assert.True(SupervisorClusterConfig.GossipEntriesPerMessage * (bytes.Length + 1024) <= SupervisorClusterConfig.FrameSizeBytes,
            $"{SupervisorClusterConfig.GossipEntriesPerMessage} states of {bytes.Length} bytes do not fit a {SupervisorClusterConfig.FrameSizeBytes}-byte frame");

        var node = SupervisorClusterConfig.ForNode(ClusterSettings.Create(Akka.Configuration.Config.Empty));
        Assert.Equal(SupervisorClusterConfig.FrameSizeBytes, node.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size"));
        Assert.Equal(SupervisorClusterConfig.GossipEntriesPerMessage, node.GetInt("akka.cluster.distributed-data.max-delta-elements"));
    }

    [Fact]
    public void A_config_over_the_limit_is_refused_with_its_size()
    {
        // Under the limit in characters, over it once escaped: the replicated size is what counts.
        var spec = Carried with { Config = new string('<', WorkloadLimits.MaxConfigBytes / 4) };
        var why = WorkloadLimits.Check(spec);
        Assert.NotNull(why);
        Assert.Contains(WorkloadLimits.ReplicatedSize(spec.Config!).ToString(System.Globalization.CultureInfo.InvariantCulture), why);
        Assert.Null(WorkloadLimits.Check(spec with { Config = null }));
    }

    private object RoundTrip(object msg)
    {
        var serializer = _system.Serialization.FindSerializerFor(msg);
        return _system.Serialization.Deserialize(serializer.ToBinary(msg), serializer.Identifier, Akka.Serialization.Serialization.ManifestFor(serializer, msg));
    }

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
