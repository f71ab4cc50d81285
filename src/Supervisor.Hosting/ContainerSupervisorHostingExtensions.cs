using Akka;
using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Supervisor.Actors;
using Supervisor.Actors.Runtime;
using Supervisor.Runtime;

namespace Supervisor.Hosting;

/// <summary>
/// Options of <see cref="ContainerSupervisorHostingExtensions.WithContainerSupervisor(AkkaConfigurationBuilder, ContainerSupervisorOptions)"/>.
/// <see cref="Config"/> is the site configuration (e.g. config/supervisor.conf); the properties, when set,
/// override it; the embedded reference.conf supplies everything else.
/// </summary>
public sealed class ContainerSupervisorOptions
{
    public Config? Config { get; set; }
    public string? StateRoot { get; set; }
    public ShutdownPolicy? ShutdownPolicy { get; set; }
    public TimeSpan? StopTimeout { get; set; }

    /// <summary>The runtime the actors drive; by default the Linux runtime on the state root.</summary>
    public IContainerRuntime? Runtime { get; set; }

    /// <summary>The effective settings: the overrides, then <see cref="Config"/>, then reference.conf.</summary>
    public SupervisorSettings Resolve()
    {
        var overrides = new List<string>();
        if (StateRoot is not null)
            overrides.Add($"supervisor.state-root = {Quote(Path.GetFullPath(StateRoot))}");
        if (ShutdownPolicy is { } p)
            overrides.Add($"supervisor.shutdown-policy = {(p == Actors.ShutdownPolicy.Stop ? "stop" : "leave-running")}");
        if (StopTimeout is { } t)
            overrides.Add($"supervisor.stop-timeout = {(long)t.TotalMilliseconds}ms");
        var config = ConfigurationFactory.ParseString(string.Join("\n", overrides));
        if (Config is not null)
            config = config.WithFallback(Config);
        return SupervisorSettings.Create(config);
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}

public static class ContainerSupervisorHostingExtensions
{
    /// <summary>Time on top of the stop timeout for the stop-containers shutdown phase (SIGKILL and the exit report).</summary>
    private static readonly TimeSpan ShutdownSlack = TimeSpan.FromSeconds(10);

    public static AkkaConfigurationBuilder WithContainerSupervisor(this AkkaConfigurationBuilder builder, Action<ContainerSupervisorOptions> configure)
    {
        var options = new ContainerSupervisorOptions();
        configure(options);
        return builder.WithContainerSupervisor(options);
    }

    /// <summary>
    /// Starts the node's <see cref="ContainerSupervisor"/> (registered in the ActorRegistry under its own type,
    /// so <c>IRequiredActor&lt;ContainerSupervisor&gt;</c> resolves it). With the stop shutdown policy, the
    /// coordinated shutdown's service-stop phase stops every container, and the phase's timeout is raised
    /// above the stop timeout (Akka's default of 5 s is shorter than a container's usual grace period).
    /// With leave-running (the default) the containers outlive the daemon and are re-adopted on its next start.
    /// </summary>
    public static AkkaConfigurationBuilder WithContainerSupervisor(this AkkaConfigurationBuilder builder, ContainerSupervisorOptions options)
    {
        var settings = options.Resolve();
        var phaseTimeout = settings.StopTimeout + ShutdownSlack;
        builder.AddHocon(
            $"akka.coordinated-shutdown.phases.service-stop.timeout = {(long)phaseTimeout.TotalMilliseconds}ms",
            HoconAddMode.Prepend);
        return builder.WithActors((system, registry) =>
        {
            var runtime = options.Runtime ?? new LinuxContainerRuntime(new RuntimeOptions
            {
                StateRoot = settings.StateRoot,
                ShimPath = settings.ShimPath,
                CriuPath = settings.CriuPath,
            });
            var supervisor = system.ActorOf(ContainerSupervisor.Props(settings, runtime), "containers");
            registry.Register<ContainerSupervisor>(supervisor);
            if (settings.ShutdownPolicy == ShutdownPolicy.Stop)
            {
                CoordinatedShutdown.Get(system).AddTask(CoordinatedShutdown.PhaseServiceStop, "stop-containers", async () =>
                {
                    await supervisor.Ask<ContainersStopped>(StopAllContainers.Instance, phaseTimeout);
                    return Done.Instance;
                });
            }
        });
    }
}
