using Akka.Configuration;
using Supervisor.Cluster;

namespace Supervisor.Cluster.Tests;

public class SettingsTests
{
    [Fact]
    public void Reference_defaults_leave_the_cluster_off()
    {
        var s = ClusterSettings.Create(Config.Empty);
        Assert.False(s.Enabled);
        Assert.Equal("127.0.0.1", s.Hostname);
        Assert.Equal(4055, s.Port);
        Assert.Empty(s.SeedNodes);
        Assert.Equal(["supervisor"], s.AllRoles);
        Assert.Empty(s.Labels);
        Assert.Equal("keep-majority", s.SplitBrainStrategy);
        Assert.True(s.DownAllWhenUnstable);
        Assert.Equal(TimeSpan.FromSeconds(20), s.StableAfter);
        Assert.Null(s.MigrationSharedPath);
        Assert.Equal(64 * 1024, s.ChunkSize);
        Assert.Equal(30, s.NumberOfShards);
        Assert.Equal(TimeSpan.FromSeconds(3), s.DecideTimeout);
    }

    [Fact]
    public void Site_keys_override_roles_labels_and_seeds()
    {
        var s = ClusterSettings.Create(ConfigurationFactory.ParseString("""
            supervisor.cluster {
              enabled = on
              port = 5001
              roles = ["gpu", "supervisor"]
              labels { zone = "b", disk = ssd }
              seed-nodes = ["akka.tcp://supervisor@10.0.0.1:5001"]
              memory-capacity = 2GiB
              migration.shared-path = "/srv/migrate"
              split-brain-resolver.stable-after = 5s
              decide-timeout = 750ms
            }
            """));
        Assert.True(s.Enabled);
        Assert.Equal("akka.tcp://supervisor@127.0.0.1:5001", s.SelfAddress);
        Assert.Equal(["supervisor", "gpu"], s.AllRoles);
        Assert.Equal("b", s.Labels["zone"]);
        Assert.Equal("ssd", s.Labels["disk"]);
        Assert.Equal(2L << 30, s.MemoryCapacity);
        Assert.Equal("/srv/migrate", s.MigrationSharedPath);
        Assert.Equal(TimeSpan.FromSeconds(5), s.StableAfter);
        Assert.Equal(TimeSpan.FromMilliseconds(750), s.DecideTimeout);
    }

    [Theory]
    [InlineData("supervisor.cluster.seed-nodes = [\"akka.tcp://other@127.0.0.1:1\"]", "seed-nodes")]
    [InlineData("supervisor.cluster.port = 70000", "port")]
    [InlineData("supervisor.cluster.split-brain-resolver.active-strategy = lease", "active-strategy")]
    [InlineData("supervisor.cluster.migration.chunk-size = 1MiB", "chunk-size")]
    [InlineData("supervisor.cluster.decide-timeout = 0s", "decide-timeout")]
    public void Bad_values_name_their_key(string hocon, string key)
    {
        var e = Assert.Throws<ConfigurationException>(() => ClusterSettings.Create(ConfigurationFactory.ParseString(hocon)));
        Assert.Contains(key, e.Message);
    }

    [Fact]
    public void Node_config_turns_on_sharding_with_remembered_entities_and_no_passivation()
    {
        var s = ClusterSettings.Create(ConfigurationFactory.ParseString("supervisor.cluster { enabled = on, port = 5002 }"));
        var c = SupervisorClusterConfig.ForNode(s);
        Assert.Equal("cluster", c.GetString("akka.actor.provider"));
        Assert.Equal(5002, c.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal(["akka.tcp://supervisor@127.0.0.1:5002"], c.GetStringList("akka.cluster.seed-nodes"));
        Assert.True(c.GetBoolean("akka.cluster.sharding.remember-entities"));
        Assert.Equal("ddata", c.GetString("akka.cluster.sharding.state-store-mode"));
        Assert.Equal("off", c.GetString("akka.cluster.sharding.passivate-idle-entity-after"));
        Assert.Equal("keep-majority", c.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal("supervisor-cluster", c.GetString("akka.actor.serialization-bindings.\"Supervisor.Cluster.IClusterMessage, Supervisor.Cluster\""));
    }
}
