using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using OrleansDiffusion.Client;

namespace OrleansDiffusion.EndToEnd.Tests;

/// <summary>The SDK's connection options and job ids (no cluster needed).</summary>
public class DiffusionClientOptionsTests
{
    [Theory]
    [InlineData(null, null, "redis", "set Redis")]
    [InlineData("127.0.0.1:6379", "127.0.0.1:30000", "redis", "not both")]
    [InlineData(null, "nohost", "gateway", "host:port")]
    [InlineData(null, "127.0.0.1:70000", "gateway", "host:port")]
    [InlineData(null, ":30000", "gateway", "host:port")]
    public void Invalid_options_name_the_option(string? redis, string? gateway, string field, string message)
    {
        var error = Assert.Single(new DiffusionClientOptions { Redis = redis, Gateway = gateway }.Validate());
        Assert.Equal(field, error.Field);
        Assert.Contains(message, error.Message);
    }

    [Theory]
    [InlineData("redis:6379", null)]
    [InlineData("127.0.0.1:6379,password=secret", null)]
    [InlineData(null, "127.0.0.1:30000")]
    [InlineData(null, "localhost:30000")]
    [InlineData(null, "[::1]:30000")]
    public void Valid_options_pass(string? redis, string? gateway) =>
        Assert.Empty(new DiffusionClientOptions { Redis = redis, Gateway = gateway }.Validate());

    [Fact]
    public void Options_come_from_the_OrleansDiffusion_section_and_the_delegate_overrides_them()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Configuration["OrleansDiffusion:Redis"] = "redis:6379";
        builder.Configuration["OrleansDiffusion:ClusterId"] = "farm";
        builder.UseDiffusionClient(o => o.ServiceId = "render");
        using var host = builder.Build();
        var options = (DiffusionClientOptions)host.Services.GetService(typeof(DiffusionClientOptions))!;
        Assert.Equal(("redis:6379", null, "farm", "render"), (options.Redis, options.Gateway, options.ClusterId, options.ServiceId));
        Assert.NotNull(host.Services.GetService(typeof(DiffusionClient)));
    }

    [Fact]
    public void Registering_with_invalid_options_fails_at_once_naming_the_option()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        var error = Assert.Throws<OptionsValidationException>(() => builder.UseDiffusionClient(o => o.Gateway = "somewhere"));
        Assert.Contains("gateway", error.Message);
    }

    [Theory]
    [InlineData("20250101-120000-abc123", true)]
    [InlineData("render_42.v2", true)]
    [InlineData("", false)]
    [InlineData("..", false)]
    [InlineData("a/b", false)]
    [InlineData("with space", false)]
    public void Job_ids_are_short_and_safe_in_keys_and_file_names(string id, bool valid) =>
        Assert.Equal(valid, DiffusionClient.CheckJobId(id) is null);

    [Fact]
    public void Job_ids_longer_than_64_characters_are_refused() =>
        Assert.NotNull(DiffusionClient.CheckJobId(new string('a', 65)));
}
