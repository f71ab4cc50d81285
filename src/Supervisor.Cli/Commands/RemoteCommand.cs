using System.CommandLine;
using Supervisor.Linux;

namespace Supervisor.Cli.Commands;

/// <summary>
/// `remote --address HOST:PORT --cert FILE --key FILE [--ca FILE] COMMAND`: drives a daemon's control plane.
/// The client needs Akka.Remote, which needs the JIT, so it is a separate program, supervisor-remote,
/// installed next to this one; this command replaces the CLI process with it (execv) and passes every
/// argument after `remote` through unchanged, before System.CommandLine parses anything (the remote
/// commands have flags of their own, such as exec's `--`).
/// </summary>
internal static class RemoteCommand
{
    public const string ClientName = "supervisor-remote";

    /// <summary>Only for the help text; <see cref="TryExec"/> runs before parsing.</summary>
    public static Command Create()
    {
        var rest = new Argument<string[]>("arguments") { Arity = ArgumentArity.ZeroOrMore, Description = "--address HOST:PORT --cert FILE --key FILE [--ca FILE] COMMAND ..." };
        var cmd = new Command("remote", "drive a daemon's remote control plane over mutual TLS (run, list, state, stop, kill, pause, resume, exec, events, checkpoint, migrate)") { rest };
        cmd.TreatUnmatchedTokensAsErrors = false;
        cmd.SetAction(parse => CommandSet.Guard(parse, () => Exec(parse.GetValue(rest) ?? [])));
        return cmd;
    }

    /// <summary>When the command is `remote`, execs the client (never returns on success); otherwise returns null.</summary>
    public static int? TryExec(string[] args)
    {
        int i = 0;
        while (i < args.Length && args[i].StartsWith('-'))
            i += args[i] is "--root" or "--log" or "--log-format" or "--criu" ? 2 : 1;
        if (i >= args.Length || args[i] != "remote")
            return null;
        try
        {
            return Exec(args[(i + 1)..]);
        }
        catch (IOException e)
        {
            Console.Error.WriteLine($"supervisor remote: {e.Message}");
            return 1;
        }
    }

    private static int Exec(string[] arguments)
    {
        var dir = Path.GetDirectoryName(Environment.ProcessPath) ?? AppContext.BaseDirectory;
        var client = Path.Combine(dir, ClientName);
        if (!File.Exists(client))
            throw new IOException($"{client} not found: build it with make build");
        Syscalls.Exec(client, [client, .. arguments], ClientEnvironment);
        return 1;
    }

    /// <summary>
    /// OpenSSL's default trust store, emptied for the client. The client trusts only the control plane's CA
    /// (its certificate checks use a custom root trust, never the system store), but SslStream builds the
    /// chain of the client's own certificate against the system store before the handshake, which makes
    /// .NET read and parse every certificate under /etc/ssl/certs (about 150 ms, a sixth of a call). With
    /// the default store empty that chain build finds nothing to read; the client still sends its
    /// certificate, and the daemon still checks it against its CA and allowlist.
    /// </summary>
    private static readonly Dictionary<string, string> ClientEnvironment = new(StringComparer.Ordinal)
    {
        ["SSL_CERT_FILE"] = "/dev/null",
        ["SSL_CERT_DIR"] = "/dev/null",
    };
}
