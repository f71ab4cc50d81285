using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Configuration;
using Supervisor.Actors;
using Supervisor.Actors.Restart;
using Supervisor.Remote.Gateway;
using Supervisor.Remote.Policy;
using Supervisor.Remote.Security;

namespace Supervisor.Remote.Hosting;

/// <summary>
/// The remote control plane: a dedicated ActorSystem (not the supervisor's own, and not a cluster's) with
/// Akka.Remote over mutual TLS in untrusted mode, whose only user actor is the <see cref="ControlGateway"/>.
/// The gateway talks to the supervisor through its local ActorRef, so no peer can address the supervisor
/// or the container actors at all: they do not exist in the system the port belongs to.
/// </summary>
public sealed class ControlPlane : IAsyncDisposable
{
    private ControlPlane(ActorSystem system, IActorRef gateway, ActorSystem supervisorSystem)
    {
        System = system;
        Gateway = gateway;
        _supervisorSystem = supervisorSystem;
    }

    private readonly ActorSystem _supervisorSystem;

    public ActorSystem System { get; }

    public IActorRef Gateway { get; }

    /// <summary>The address clients use, e.g. akka.ssl.tcp://supervisor-control@127.0.0.1:4053.</summary>
    public Address Address => ((ExtendedActorSystem)System).Provider.DefaultAddress;

    /// <summary>
    /// Starts the control plane next to <paramref name="supervisorSystem"/>. Throws
    /// <see cref="TlsConfigurationException"/> when the certificates cannot be loaded; nothing listens then.
    /// </summary>
    public static ControlPlane Start(ActorSystem supervisorSystem, IActorRef supervisor, RemoteControlSettings settings,
        string stateRoot, RestartPolicy defaultRestart, IContainerInspector? inspector = null, IActorRef? workloads = null,
        TimeSpan? migrationTimeout = null, IActorRef? nodeAgent = null)
    {
        // A cluster node is named by its cluster address everywhere (replies, events, constraints), the name
        // the cluster's own lists, placements and migrations use; node-name names a single daemon.
        var nodeName = workloads is not null
            ? Akka.Cluster.Cluster.Get(supervisorSystem).SelfAddress.ToString()
            : settings.NodeName;
        var ca = TlsMaterial.LoadCa(settings.CaPath);
        var certificate = TlsMaterial.LoadCertificate(settings.CertificatePath, settings.KeyPath, settings.Password);
        var verifier = new CertificateVerifier(ca, new CertificateAllowlist(settings.AllowedSubjects, settings.AllowedThumbprints));
        var gatewaySettings = new ControlGatewaySettings(
            new RequestAuthenticator(verifier, settings.RequestMaxAge),
            new ControlPolicy(settings.Policy),
            inspector ?? new StateRootInspector(stateRoot),
            settings.BundleDir,
            nodeName,
            defaultRestart,
            settings.AskTimeout,
            settings.DedupCapacity,
            settings.DedupWindow,
            settings.MaxSubscriptions,
            workloads,
            migrationTimeout,
            nodeAgent,
            workloads is not null ? supervisorSystem : null);

        var setup = BootstrapSetup.Create()
            .WithConfig(settings.ToAkkaConfig().WithFallback(LoggerConfig(supervisorSystem)))
            .And(TlsMaterial.SslSetup(certificate, verifier));
        ActorSystem system;
        try
        {
            system = ActorSystem.Create(settings.SystemName, setup);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            var cause = e;
            while (cause.InnerException is not null)
                cause = cause.InnerException;
            throw new ControlPlaneStartException($"remote control: cannot listen on {settings.Hostname}:{settings.Port}: {cause.Message}", e);
        }
        var gateway = system.ActorOf(ControlGateway.Props(supervisor, gatewaySettings), RemoteControlSettings.GatewayName);
        supervisorSystem.EventStream.Subscribe(gateway, typeof(IContainerEvent));
        return new ControlPlane(system, gateway, supervisorSystem);
    }

    /// <summary>The control system logs through the same loggers as the supervisor's (Serilog in the daemon).</summary>
    private static Config LoggerConfig(ActorSystem supervisorSystem)
    {
        var c = supervisorSystem.Settings.Config;
        var loggers = c.GetStringList("akka.loggers") ?? [];
        var formatter = c.GetString("akka.logger-formatter", "");
        var text = $"akka.loggers = [{string.Join(", ", loggers.Select(l => "\"" + l + "\""))}]\n" +
                   (formatter.Length > 0 ? $"akka.logger-formatter = \"{formatter}\"\n" : "");
        return ConfigurationFactory.ParseString(text);
    }

    public async ValueTask DisposeAsync()
    {
        _supervisorSystem.EventStream.Unsubscribe(Gateway);
        await System.Terminate();
    }
}

/// <summary>The control plane could not start (e.g. its port is taken); nothing listens.</summary>
public sealed class ControlPlaneStartException(string message, Exception inner) : IOException(message, inner);
