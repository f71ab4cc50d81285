using System.CommandLine;
using System.Text.Json;
using Supervisor.Runtime;
using Supervisor.Runtime.Oci;

namespace Supervisor.Cli.Commands;

/// <summary>`spec`: writes a default config.json, as `runc spec` does, hardened by default.</summary>
internal static class SpecCommand
{
    public static Command Create()
    {
        var bundle = new Option<string>("--bundle", "-b") { Description = "path to the root of the bundle directory" };
        var rootless = new Option<bool>("--rootless") { Description = "generate a configuration for a rootless container" };
        var cmd = new Command("spec", "create a new specification file (config.json)") { bundle, rootless };
        cmd.SetAction(parse => CommandSet.Guard(parse, () =>
        {
            var dir = parse.GetValue(bundle) ?? Directory.GetCurrentDirectory();
            var path = Path.Combine(dir, "config.json");
            if (File.Exists(path))
                throw new RuntimeException("File config.json exists. Remove it first or use --bundle");
            if (!Directory.Exists(dir))
                throw new RuntimeException($"bundle directory {dir} does not exist");
            var spec = parse.GetValue(rootless)
                ? DefaultSpec.Create(rootless: true, Supervisor.Linux.Syscalls.EffectiveUid, Supervisor.Linux.Syscalls.EffectiveGid)
                : DefaultSpec.Create();
            File.WriteAllText(path, SpecLoader.Serialize(spec) + "\n");
            return 0;
        }));
        return cmd;
    }
}
