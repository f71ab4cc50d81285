using System.Text;
using System.Text.Json;
using Supervisor.Runtime.Oci;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Tests.Oci;

/// <summary>
/// Mutated config.json documents must only ever fail with a one-line <see cref="ConfigException"/>: never
/// another exception type (a crash with a stack trace) and never a multi-line message.
/// </summary>
public class FuzzTests
{
    private static readonly string[] Tokens =
    [
        "null", "-1", "1e400", "\"\"", "\"\\u0000\"", "[]", "{}", "true", "18446744073709551616", "\"..\"", "\"/\"",
        "[null]", "{\"type\":null}", "-9223372036854775809", "0.5", "\"a\\u0000b\"",
    ];

    [Fact]
    public void MutatedConfigsFailCleanly()
    {
        var seeds = new[]
        {
            JsonSerializer.Serialize(DefaultSpec.Create(), OciJsonContext.Default.OciSpec),
            JsonSerializer.Serialize(DefaultSpec.Create(true, 1000, 1000), OciJsonContext.Default.OciSpec),
            File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Oci/Fixtures/full-config.json")),
        };
        var rng = new Random(20261128);
        var accepted = 0;
        for (var i = 0; i < 4000; i++)
        {
            var doc = Mutate(seeds[i % seeds.Length], rng);
            try
            {
                var spec = SpecLoader.Parse(doc, "config.json");
                var config = SpecConverter.Convert(spec, "/nonexistent-bundle");
                _ = ConfigValidator.Validate(config);
                accepted++;
            }
            catch (ConfigException e)
            {
                Assert.False(e.Message.Contains('\n'), $"multi-line message for input #{i}: {e.Message}");
            }
            catch (Exception e)
            {
                Assert.Fail($"input #{i} threw {e.GetType().Name}: {e.Message}\n{doc}");
            }
        }
        // Some mutations (inside strings, unknown members) leave a usable document; the loop must have
        // exercised the converter and validator, not only the parser.
        Assert.True(accepted > 100, $"only {accepted} mutated documents reached the converter");
    }

    private static string Mutate(string json, Random rng)
    {
        var sb = new StringBuilder(json);
        var edits = rng.Next(1, 4);
        for (var e = 0; e < edits; e++)
        {
            var pos = rng.Next(sb.Length);
            switch (rng.Next(5))
            {
                case 0: sb.Remove(pos, Math.Min(rng.Next(1, 8), sb.Length - pos)); break;
                case 1: sb[pos] = (char)rng.Next(32, 127); break;
                case 2: sb.Insert(pos, Tokens[rng.Next(Tokens.Length)]); break;
                default:
                    // Replace a whole value after a colon: wrong types in the right places.
                    var colon = json.IndexOf(':', rng.Next(json.Length));
                    if (colon < 0) break;
                    var end = colon + 1;
                    while (end < json.Length && json[end] is not (',' or '}' or ']') && end - colon < 40) end++;
                    return json[..(colon + 1)] + Tokens[rng.Next(Tokens.Length)] + json[end..];
            }
        }
        return sb.ToString();
    }
}
