using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Supervisor.Runtime;
using Supervisor.Runtime.State;
using Supervisor.Common;

namespace Supervisor.Cli.Commands;

/// <summary>state, list and ps: read-only views, in runc's formats.</summary>
internal static class QueryCommands
{
    public static Command StateCommand()
    {
        var cmd = new Command("state", "output the state of a container") { CommandSet.IdArgument };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var factory = CommandSet.Factory(parse);
            var state = factory.Load(parse.GetValue(CommandSet.IdArgument)!).State();
            Console.Out.WriteLine(WithSupervisorFields(RuntimeJson.SerializeState(state), factory.Options.StateRoot, state.Id));
            return 0;
        }));
        return cmd;
    }

    /// <summary>
    /// For a container the supervisor daemon runs, its restart record (&lt;root&gt;/.supervisor/&lt;id&gt;.json,
    /// written by the daemon) adds restartCount, restartPolicy and the last exit code to the OCI fields.
    /// A container without a record (one the CLI made) prints the OCI state alone.
    /// </summary>
    private static string WithSupervisorFields(string stateJson, string root, string id)
    {
        JsonObject? record;
        try
        {
            record = JsonNode.Parse(File.ReadAllText(Path.Combine(root, ".supervisor", id + ".json"))) as JsonObject;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException)
        {
            return stateJson;
        }
        if (record is null || JsonNode.Parse(stateJson) is not JsonObject state)
            return stateJson;
        state["restartCount"] = record["restartCount"]?.GetValue<int>() ?? 0;
        state["restartPolicy"] = record["policy"]?.GetValue<string>() ?? "no";
        if (record["lastExitCode"] is { } code)
            state["lastExitCode"] = code.GetValue<int>();
        if (record["lastOomKilled"]?.GetValue<bool>() == true)
            state["lastOomKilled"] = true;
        if (record["manuallyStopped"]?.GetValue<bool>() == true)
            state["manuallyStopped"] = true;
        return state.ToJsonString(new System.Text.Json.JsonSerializerOptions
        {
            WriteIndented = true,
            Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        });
    }

    public static Command ListCommand()
    {
        var format = new Option<string>("--format", "-f") { Description = "select one of: table or json", DefaultValueFactory = _ => "table" };
        var quiet = new Option<bool>("--quiet", "-q") { Description = "display only container IDs" };
        var cmd = new Command("list", "lists containers started by supervisor with the given root") { format, quiet };
        cmd.Aliases.Add("ls");
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var states = new List<OciState>();
            foreach (var c in CommandSet.Factory(parse).List())
            {
                try
                {
                    states.Add(c.State());
                }
                catch (ContainerNotFoundException)
                {
                    // Deleted between the listing and the read.
                }
            }
            if (parse.GetValue(quiet))
            {
                foreach (var s in states)
                    Console.Out.WriteLine(s.Id);
                return 0;
            }
            switch (parse.GetValue(format))
            {
                case "json":
                    Console.Out.WriteLine(RuntimeJson.SerializeStatesCompact(states));
                    return 0;
                case "table":
                    Console.Out.Write(TextTable.Format(
                        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
                        states.Select(s => new[]
                        {
                            s.Id, s.Pid.ToString(), s.Status, s.Bundle,
                            s.Created.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'"), s.Owner.Length > 0 ? s.Owner : "root",
                        })));
                    return 0;
                default:
                    throw new RuntimeException($"invalid format option \"{parse.GetValue(format)}\"");
            }
        }));
        return cmd;
    }

    public static Command PsCommand()
    {
        var format = new Option<string>("--format", "-f") { Description = "select one of: table or json", DefaultValueFactory = _ => "table" };
        var psArgs = new Argument<string[]>("ps-options") { Arity = ArgumentArity.ZeroOrMore, Description = "options passed to ps (default -ef)" };
        var cmd = new Command("ps", "ps displays the processes running inside a container") { CommandSet.IdArgument, psArgs, format };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var container = CommandSet.Factory(parse).Load(parse.GetValue(CommandSet.IdArgument)!);
            var pids = container.Processes();
            if (parse.GetValue(format) == "json")
            {
                Console.Out.WriteLine("[" + string.Join(",", pids) + "]");
                return 0;
            }
            if (parse.GetValue(format) != "table")
                throw new RuntimeException($"invalid format option \"{parse.GetValue(format)}\"");
            var args = parse.GetValue(psArgs) is { Length: > 0 } a ? a : ["-ef"];
            Console.Out.Write(FilterPs(args, pids));
            return 0;
        }));
        return cmd;
    }

    /// <summary>Runs the host's ps and keeps the header and the lines of the container's pids, as runc does.</summary>
    private static string FilterPs(string[] args, IReadOnlyList<int> pids)
    {
        var psi = new ProcessStartInfo("ps") { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var a in args)
            psi.ArgumentList.Add(a);
        using var ps = Process.Start(psi) ?? throw new RuntimeException("could not run ps");
        var output = ps.StandardOutput.ReadToEnd();
        ps.WaitForExit();
        if (ps.ExitCode != 0)
            throw new RuntimeException($"ps {string.Join(' ', args)} failed with exit status {ps.ExitCode}");
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0)
            return "";
        var header = lines[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        int pidColumn = Array.IndexOf(header, "PID");
        if (pidColumn < 0)
            throw new RuntimeException("couldn't find PID field in ps output");
        var set = pids.ToHashSet();
        var sb = new StringBuilder(lines[0]).Append('\n');
        foreach (var line in lines.Skip(1))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > pidColumn && int.TryParse(fields[pidColumn], out var pid) && set.Contains(pid))
                sb.Append(line).Append('\n');
        }
        return sb.ToString();
    }
}
