using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Supervisor.Actors.Tests.Fakes;
using Supervisor.Hosting;
using Supervisor.Runtime;

namespace Supervisor.Actors.Tests;

/// <summary>The Akka.Hosting wiring, in a real generic host (xunit 2 cannot use Akka.Hosting.TestKit).</summary>
public sealed class HostingTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("hosting-spec").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private IHost Build(FakeRuntime runtime, string siteConfig)
    {
        var builder = Host.CreateApplicationBuilder([]);
        builder.Services.AddAkka("supervisor", (akka, _) => akka.WithContainerSupervisor(o =>
        {
            o.Config = ConfigurationFactory.ParseString(siteConfig);
            o.StateRoot = _root;
            o.Runtime = runtime;
        }));
        return builder.Build();
    }

    [Fact]
    public async Task The_supervisor_is_registered_runs_the_configured_containers_and_leaves_them_running_on_shutdown()
    {
        var runtime = new FakeRuntime(_root, () => DateTimeOffset.UtcNow);
        using var host = Build(runtime, """supervisor.containers = [ { id = web, bundle = "/b" } ]""");
        await host.StartAsync();
        var supervisor = await host.Services.GetRequiredService<IRequiredActor<ContainerSupervisor>>().GetAsync();
        var list = await supervisor.Ask<ContainerList>(ListContainers.Instance, TimeSpan.FromSeconds(5));
        Assert.Equal(["web"], list.Ids);
        var info = await supervisor.Ask<ContainerInfo>(new GetContainerState("web"), TimeSpan.FromSeconds(5));
        Assert.Equal(ContainerStatus.Running, info.Status);

        // The system's config carries the raised shutdown phase: the stop timeout (10 s) plus slack.
        var system = host.Services.GetRequiredService<ActorSystem>();
        Assert.Equal(TimeSpan.FromSeconds(20), system.Settings.Config.GetTimeSpan("akka.coordinated-shutdown.phases.service-stop.timeout"));

        await host.StopAsync();
        Assert.Empty(runtime.Signals);
        Assert.Equal(ContainerStatus.Running, runtime.Get("web")!.Status);
    }

    [Fact]
    public async Task With_the_stop_policy_shutdown_stops_every_container()
    {
        var runtime = new FakeRuntime(_root, () => DateTimeOffset.UtcNow);
        using var host = Build(runtime, """
            supervisor { shutdown-policy = stop, stop-timeout = 1s, containers = [ { id = web, bundle = "/b", restart.policy = always } ] }
            """);
        await host.StartAsync();
        var supervisor = await host.Services.GetRequiredService<IRequiredActor<ContainerSupervisor>>().GetAsync();
        await supervisor.Ask<ContainerInfo>(new GetContainerState("web"), TimeSpan.FromSeconds(5));

        // The fake's init "exits" as soon as it is told to stop.
        var stopping = host.StopAsync();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!runtime.Signals.Any(s => s.Signal == 15) && DateTime.UtcNow < deadline)
            await Task.Delay(20);
        runtime.Exit("web", 143, signal: 15);
        await stopping;
        Assert.Contains(("web", 15, false), runtime.Signals);
        Assert.Equal(ContainerStatus.Stopped, runtime.Get("web")!.Status);
        Assert.False(new Supervisor.Actors.Restart.RestartStore(_root).Read("web")!.ManuallyStopped);
    }
}
