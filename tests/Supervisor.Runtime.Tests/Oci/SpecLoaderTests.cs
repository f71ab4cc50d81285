using Supervisor.Runtime.Oci;
using Supervisor.Runtime.Validation;

namespace Supervisor.Runtime.Tests.Oci;

public class SpecLoaderTests
{
    private static string Fail(string json) =>
        Assert.Throws<ConfigException>(() => SpecLoader.Parse(json, "config.json")).Message;

    [Fact]
    public void SyntaxErrorNamesTheLine()
    {
        var msg = Fail("{\n  \"ociVersion\": \"1.0.2\",\n  \"root\": x\n}");
        Assert.StartsWith("config.json: invalid JSON at line 3: ", msg);
        Assert.DoesNotContain("LineNumber", msg);
        Assert.DoesNotContain("\n", msg);
    }

    [Theory]
    [InlineData("{\"ociVersion\":\"1\",\"process\":{\"user\":{\"uid\":\"zero\"}}}", "config.json: process.user.uid: expected a number")]
    [InlineData("{\"ociVersion\":\"1\",\"process\":{\"user\":{\"uid\":-1}}}", "config.json: process.user.uid: expected a number")]
    [InlineData("{\"ociVersion\":\"1\",\"process\":{\"terminal\":\"yes\"}}", "config.json: process.terminal: expected a boolean")]
    [InlineData("{\"ociVersion\":\"1\",\"process\":{\"args\":\"sh\"}}", "config.json: process.args: expected an array")]
    [InlineData("{\"ociVersion\":\"1\",\"hostname\":5}", "config.json: hostname: expected a string")]
    [InlineData("{\"ociVersion\":\"1\",\"linux\":{\"namespaces\":[{\"type\":\"pid\"},{\"type\":7}]}}", "config.json: linux.namespaces[1].type: expected a string")]
    [InlineData("{\"ociVersion\":\"1\",\"root\":[]}", "config.json: root: expected an object")]
    [InlineData("{\"ociVersion\":\"1\",\"annotations\":{\"a.b\":1}}", "config.json: annotations[\"a.b\"]: expected a string")]
    [InlineData("{\"ociVersion\":\"1\",\"linux\":{\"resources\":{\"blockIO\":{\"weight\":70000}}}}", "config.json: linux.resources.blockIO.weight: expected a number (0..65535)")]
    [InlineData("{\"ociVersion\":\"1\",\"linux\":{\"uidMappings\":[{\"containerID\":0,\"hostID\":1.5,\"size\":1}]}}", "config.json: linux.uidMappings[0].hostID: expected a number")]
    public void WrongTypeNamesTheField(string json, string expectedPrefix)
    {
        var msg = Fail(json);
        Assert.StartsWith(expectedPrefix, msg);
        Assert.DoesNotContain("\n", msg);
    }

    [Fact]
    public void UnknownFieldsAreIgnored()
    {
        var spec = SpecLoader.Parse("{\"ociVersion\":\"1.2.0\",\"windows\":{\"x\":1},\"process\":{\"cwd\":\"/\",\"ioPriority\":{\"class\":\"IOPRIO_CLASS_RT\"}},\"future\":[1,2,{}]}", "config.json");
        Assert.Equal("1.2.0", spec.OciVersion);
        Assert.Equal("/", spec.Process!.Cwd);
    }

    [Fact]
    public void MissingOciVersionIsRefused() => Assert.Equal("config.json: ociVersion: required", Fail("{\"hostname\":\"x\"}"));

    [Fact]
    public void NullDocumentIsRefused() => Assert.Contains("expected a JSON object", Fail("null"));

    [Fact]
    public void TopLevelArrayIsRefused() => Assert.StartsWith("config.json: (top level): expected an object", Fail("[]"));

    [Fact]
    public void EmptyInputIsRefused() => Assert.StartsWith("config.json: invalid JSON", Fail(""));

    [Fact]
    public void TrailingGarbageIsRefused() => Assert.StartsWith("config.json: invalid JSON at line 1", Fail("{\"ociVersion\":\"1\"} x"));

    [Fact]
    public void DeepNestingIsRefused()
    {
        var json = "{\"ociVersion\":\"1\",\"future\":{\"x\":" + new string('[', 200) + new string(']', 200) + "}}";
        Assert.Contains("nested deeper than 64 levels", Fail(json));
    }

    [Fact]
    public void HugeInputIsRefused()
    {
        var json = "{\"ociVersion\":\"1\",\"hostname\":\"" + new string('a', SpecLoader.MaxSize) + "\"}";
        Assert.Contains("larger than the 16 MiB limit", Fail(json));
    }

    [Fact]
    public void LoadBundleMissingFile()
    {
        var dir = Directory.CreateTempSubdirectory("oci-nocfg").FullName;
        try
        {
            var e = Assert.Throws<ConfigException>(() => SpecLoader.LoadBundle(dir));
            Assert.Equal($"config.json not found in bundle {dir}", e.Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void LoadBundleRefusesHugeFile()
    {
        var dir = Directory.CreateTempSubdirectory("oci-huge").FullName;
        try
        {
            using (var fs = File.Create(Path.Combine(dir, "config.json"))) fs.SetLength(SpecLoader.MaxSize + 4096L); // sparse
            Assert.Equal("config.json: larger than the 16 MiB limit", Assert.Throws<ConfigException>(() => SpecLoader.LoadBundle(dir)).Message);
        }
        finally { Directory.Delete(dir, true); }
    }

    [Fact]
    public void LoadBundleReadsConfig()
    {
        var dir = Directory.CreateTempSubdirectory("oci-cfg").FullName;
        try
        {
            File.WriteAllText(Path.Combine(dir, "config.json"), "{\"ociVersion\":\"1.0.2\",\"hostname\":\"h\"}");
            Assert.Equal("h", SpecLoader.LoadBundle(dir).Hostname);
        }
        finally { Directory.Delete(dir, true); }
    }
}
