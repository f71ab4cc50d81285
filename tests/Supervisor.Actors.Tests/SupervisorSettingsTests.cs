using Akka.Configuration;
using Supervisor.Actors.Restart;

namespace Supervisor.Actors.Tests;

public class SupervisorSettingsTests
{
    private static SupervisorSettings Parse(string hocon) => SupervisorSettings.Create(ConfigurationFactory.ParseString(hocon));

    [Fact]
    public void The_reference_conf_gives_the_documented_defaults()
    {
        var s = Parse("");
        Assert.Equal("/run/supervisor", s.StateRoot);
        Assert.Null(s.ShimPath);
        Assert.Null(s.CriuPath);
        Assert.Equal(ShutdownPolicy.LeaveRunning, s.ShutdownPolicy);
        Assert.Equal(TimeSpan.FromSeconds(10), s.StopTimeout);
        Assert.Equal(TimeSpan.FromSeconds(10), s.StatsInterval);
        Assert.Equal(30, s.StatsHistory);
        Assert.Equal(RestartMode.No, s.DefaultRestart.Mode);
        Assert.Equal(BackoffSettings.Docker, s.DefaultRestart.Backoff);
        Assert.Equal(10, s.ActorRestart.MaxRestarts);
        Assert.Empty(s.Containers);
    }

    [Fact]
    public void Containers_take_their_own_restart_block_over_the_default()
    {
        var s = Parse("""
            supervisor {
              state-root = "/tmp/sv"
              shutdown-policy = stop
              restart { policy = always, profile = kubernetes }
              containers = [
                { id = "web", bundle = "/srv/bundles/web", restart { policy = "on-failure", max-retries = 3, initial-delay = 1s } }
                { id = "db", bundle = "/srv/bundles/db" }
                { id = "job", bundle = "/srv/bundles/job", restart.policy = "on-failure:7" }
              ]
            }
            """);
        Assert.Equal(ShutdownPolicy.Stop, s.ShutdownPolicy);
        Assert.Equal(3, s.Containers.Count);
        var web = s.Containers[0];
        Assert.Equal(("web", "/srv/bundles/web"), (web.Id, web.Bundle));
        Assert.Equal("on-failure:3", web.Restart.ToString());
        Assert.Equal(TimeSpan.FromSeconds(1), web.Restart.Backoff.Initial);
        Assert.Equal(TimeSpan.FromSeconds(300), web.Restart.Backoff.Max);
        Assert.Equal("always", s.Containers[1].Restart.ToString());
        Assert.Equal(BackoffSettings.Kubernetes, s.Containers[1].Restart.Backoff);
        Assert.Equal("on-failure:7", s.Containers[2].Restart.ToString());
    }

    [Theory]
    [InlineData("supervisor.containers = [ { bundle = \"/b\" } ]", "id is required")]
    [InlineData("supervisor.containers = [ { id = a } ]", "bundle is required")]
    [InlineData("supervisor.containers = [ { id = a, bundle = /b }, { id = a, bundle = /c } ]", "appears twice")]
    [InlineData("supervisor.restart.policy = sometimes", "supervisor.restart.policy")]
    [InlineData("supervisor.restart { policy = always, max-retries = 2 }", "only valid with policy on-failure")]
    [InlineData("supervisor.restart.multiplier = 0.5", "multiplier")]
    [InlineData("supervisor.restart.profile = systemd", "unknown backoff profile")]
    [InlineData("supervisor.shutdown-policy = explode", "shutdown-policy")]
    [InlineData("supervisor.stats.history = 0", "stats.history")]
    public void Bad_values_name_the_key(string hocon, string message)
    {
        var e = Assert.Throws<ConfigurationException>(() => Parse(hocon));
        Assert.Contains(message, e.Message);
    }
}
