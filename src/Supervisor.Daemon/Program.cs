using Akka.Actor;
using Akka.Configuration;
using Akka.Hosting;
using Akka.Logger.Serilog;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Serilog;
using Serilog.Events;
using Supervisor.Actors;
using Supervisor.Cluster;
using Supervisor.Hosting;
using Supervisor.Linux;
using Supervisor.Remote.Hosting;
using Supervisor.Remote.Policy;
using Supervisor.Remote.Security;

namespace Supervisor.Daemon;

/// <summary>
/// supervisor-daemon [--config FILE] [--root DIR]: the generic host with Akka.Hosting, in the foreground.
/// SIGTERM and SIGINT stop it through the host, which runs Akka's coordinated shutdown.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        string? configFile = null;
        string? root = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" when i + 1 < args.Length:
                    configFile = args[++i];
                    break;
                case "--root" when i + 1 < args.Length:
                    root = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"supervisor-daemon: unexpected argument {args[i]} (usage: supervisor-daemon [--config FILE] [--root DIR])");
                    return 2;
            }
        }

        ContainerSupervisorOptions options;
        SupervisorSettings settings;
        ClusterSettings cluster;
        RemoteControlSettings? remote = null;
        Config site;
        try
        {
            site = configFile is null ? Config.Empty : ConfigurationFactory.ParseString(File.ReadAllText(configFile));
            options = new ContainerSupervisorOptions { Config = site, StateRoot = root };
            settings = options.Resolve();
            cluster = ClusterSettings.Create(site);
            // Without a supervisor.remote section the daemon is local-only: nothing listens on the network.
            if (site.HasPath("supervisor.remote"))
            {
                remote = RemoteControlSettings.Create(site, settings.StateRoot);
                // Load the TLS material now, so that a missing or unreadable file is one line and exit code 2
                // rather than a host start-up failure; remoting never starts without it.
                TlsMaterial.LoadCa(remote.CaPath);
                TlsMaterial.LoadCertificate(remote.CertificatePath, remote.KeyPath, remote.Password).Dispose();
            }
        }
        catch (Exception e) when (e is IOException or ConfigurationException or UnauthorizedAccessException or FormatException or TlsConfigurationException)
        {
            Console.Error.WriteLine($"supervisor-daemon: {configFile}: {e.Message}");
            return 2;
        }

        Directory.CreateDirectory(settings.StateRoot);
        var effective = site.WithFallback(SupervisorSettings.DefaultConfig());
        var tableInterval = effective.GetTimeSpan("supervisor.console.table-interval", TimeSpan.Zero);
        var logFile = site.GetString("supervisor.log-file", "");
        if (string.IsNullOrWhiteSpace(logFile))
            logFile = Path.Combine(settings.StateRoot, "supervisor-daemon.log");
        Log.Logger = new LoggerConfiguration()
            .MinimumLevel.Information()
            .MinimumLevel.Override("Microsoft", LogEventLevel.Warning)
            .Enrich.FromLogContext()
            .WriteTo.Console(outputTemplate: "{Timestamp:HH:mm:ss.fff} {Level:u3} {Message:lj}{NewLine}{Exception}")
            .WriteTo.File(logFile, rollOnFileSizeLimit: true, fileSizeLimitBytes: 16 * 1024 * 1024, retainedFileCountLimit: 4,
                outputTemplate: "{Timestamp:o} {Level:u3} {ContainerId} {Message:lj} {Properties:j}{NewLine}{Exception}")
            .CreateLogger();

        try
        {
            // Orphans among the daemon's descendants come back to it instead of PID 1, which on these hosts
            // never reaps; the daemon reaps only the shims it started, by pid.
            Syscalls.SetChildSubreaper();

            var builder = Host.CreateApplicationBuilder([]);
            builder.Services.AddSerilog();
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = settings.StopTimeout + TimeSpan.FromSeconds(30));
            builder.Services.AddAkka("supervisor", (akka, _) =>
            {
                akka.ConfigureLoggers(l =>
                    {
                        l.LogLevel = Akka.Event.LogLevel.InfoLevel;
                        l.ClearLoggers();
                        l.AddLogger<SerilogLogger>();
                    })
                    .AddHocon("akka.logger-formatter = \"Akka.Logger.Serilog.SerilogLogMessageFormatter, Akka.Logger.Serilog\"", HoconAddMode.Prepend)
                    .WithContainerSupervisor(options)
                    // With a remote-control policy, workloads carrying a remote client's config are checked against it
                    // on the node that runs them; without one, such a node runs only an admin's config.
                    .WithSupervisorCluster(site, settings, remote is null ? null : new PolicyWorkloadAdmission(new ControlPolicy(remote.Policy)))
                    .WithActors((system, registry) =>
                    {
                        var logger = system.ActorOf(Props.Create(() => new EventLogger()), "event-log");
                        system.EventStream.Subscribe(logger, typeof(IContainerEvent));
                        if (tableInterval > TimeSpan.Zero)
                        {
                            var supervisor = registry.Get<ContainerSupervisor>();
                            system.ActorOf(Props.Create(() => new StatusTable(supervisor, tableInterval)), "status-table");
                        }
                    });
            });
            if (remote is not null)
                builder.Services.AddRemoteControl(remote, settings);
            Log.Information("supervisor-daemon: state root {StateRoot}, shutdown policy {ShutdownPolicy}, log {LogFile}",
                settings.StateRoot, settings.ShutdownPolicy, logFile);
            if (cluster.Enabled)
                Log.Information("supervisor-daemon: cluster node {Address}, seeds {Seeds}", cluster.SelfAddress, cluster.SeedNodes);
            await builder.Build().RunAsync();
            return 0;
        }
        catch (Exception e) when (e is SyscallException or IOException or ConfigurationException)
        {
            Log.Fatal("supervisor-daemon: {Error}", e.Message);
            return 1;
        }
        finally
        {
            await Log.CloseAndFlushAsync();
        }
    }
}

/// <summary>Writes every container event to the log, with the container id and the event's fields as properties.</summary>
internal sealed class EventLogger : ReceiveActor
{
    public EventLogger()
    {
        Receive<ContainerStats>(e =>
            Log.ForContext("ContainerId", e.Id).Debug("{Event} {ContainerId}: {Pids} tasks, {MemoryBytes} bytes", "stats", e.Id,
                e.Cgroups.Pids.Current, e.Cgroups.Memory.Usage.Usage));
        Receive<IContainerEvent>(e =>
            Log.ForContext("ContainerId", e.Id).Information("{Event} {ContainerId}: {@Details}", e.GetType().Name, e.Id, e));
    }
}
