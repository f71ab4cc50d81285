using Akka.Actor;
using Akka.Event;
using Akka.Hosting;
using Microsoft.Extensions.Hosting;
using Supervisor.Actors;
using Supervisor.Actors.Restart;

namespace Supervisor.Remote.Hosting;

/// <summary>
/// Runs the <see cref="ControlPlane"/> inside a generic host, after Akka.Hosting has started the supervisor
/// (hosted services start in registration order and stop in reverse, so the port closes before the
/// supervisor stops). Register it with <see cref="RemoteControlServiceCollectionExtensions.AddRemoteControl"/>.
/// </summary>
public sealed class ControlPlaneService(
    ActorSystem system,
    IRequiredActor<ContainerSupervisor> supervisor,
    RemoteControlSettings settings,
    string stateRoot,
    RestartPolicy defaultRestart) : IHostedService
{
    private ControlPlane? _plane;

    public ControlPlane? Plane => _plane;

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var sup = await supervisor.GetAsync(cancellationToken);
        // On a cluster node the shard region of the workloads and the node agent are registered too: run, delete,
        // migrate go to the workloads, and list, state and container commands reach the other nodes' agents.
        // (TryGet gives ActorRefs.Nobody, not null, for a key that is not registered: a single node has neither.)
        var registry = Akka.Hosting.ActorRegistry.For(system);
        var clustered = registry.TryGet<Supervisor.Cluster.WorkloadRegion>(out var workloads) & registry.TryGet<Supervisor.Cluster.NodeAgent>(out var agent);
        _plane = clustered
            ? ControlPlane.Start(system, sup, settings, stateRoot, defaultRestart, workloads: workloads, nodeAgent: agent)
            : ControlPlane.Start(system, sup, settings, stateRoot, defaultRestart);
        system.Log.Info("control: listening on {0} (mutual TLS, untrusted mode, gateway {1})", _plane.Address, RemoteControlSettings.GatewayPath);
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_plane is not null)
            await _plane.DisposeAsync();
    }
}

public static class RemoteControlServiceCollectionExtensions
{
    /// <summary>Adds the remote control plane; call after AddAkka (which must run WithContainerSupervisor).</summary>
    public static Microsoft.Extensions.DependencyInjection.IServiceCollection AddRemoteControl(
        this Microsoft.Extensions.DependencyInjection.IServiceCollection services, RemoteControlSettings settings, SupervisorSettings supervisorSettings)
    {
        return Microsoft.Extensions.DependencyInjection.ServiceCollectionHostedServiceExtensions.AddHostedService(services, sp =>
            new ControlPlaneService(
                (ActorSystem)sp.GetService(typeof(ActorSystem))!,
                (IRequiredActor<ContainerSupervisor>)sp.GetService(typeof(IRequiredActor<ContainerSupervisor>))!,
                settings,
                supervisorSettings.StateRoot,
                supervisorSettings.DefaultRestart));
    }
}
