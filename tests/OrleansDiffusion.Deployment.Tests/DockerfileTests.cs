using System.Text.RegularExpressions;

namespace OrleansDiffusion.Deployment.Tests;

/// <summary>
/// The silo host's images, read as text (no Docker engine here to build them): multi-stage, the right
/// backend and base, the uid the manifests run as, and a health check on the liveness endpoint.
/// </summary>
public partial class DockerfileTests
{
    public static TheoryData<string> Dockerfiles => new("Dockerfile", "Dockerfile.gpu");

    [Theory, MemberData(nameof(Dockerfiles))]
    public void Builds_the_silo_host_in_a_separate_stage(string file)
    {
        var text = Read(file);
        Assert.True(FromLine().Count(text) >= 2, $"{file} is not multi-stage");
        Assert.Contains("dotnet publish silos/OrleansDiffusion.Silo/OrleansDiffusion.Silo.csproj", text);
        Assert.Matches(@"FROM mcr\.microsoft\.com/dotnet/sdk:\$\{DOTNET_VERSION\}-noble AS build", text);
        Assert.Contains("ENTRYPOINT [\"dotnet\", \"OrleansDiffusion.Silo.dll\"]", text);
        Assert.Matches(@"-p:TorchSharpBackend=" + (file.EndsWith(".gpu", StringComparison.Ordinal) ? "cuda" : "cpu") + @"\b", text);
    }

    [Fact]
    public void The_gpu_image_runs_on_cuda_with_ubuntu_24_04()
    {
        var text = Read("Dockerfile.gpu");
        Assert.Matches(@"ARG CUDA_IMAGE=nvidia/cuda:12\.\d+\.\d+-(runtime|cudnn-runtime)-ubuntu24\.04", text);
        Assert.Equal("FROM ${CUDA_IMAGE}", FromLine().Matches(text)[^1].Value.Trim());
    }

    [Fact]
    public void The_cpu_image_runs_on_asp_net_core()
    {
        Assert.Equal("FROM mcr.microsoft.com/dotnet/aspnet:${DOTNET_VERSION}-noble", FromLine().Matches(Read("Dockerfile"))[^1].Value.Trim());
    }

    [Theory, MemberData(nameof(Dockerfiles))]
    public void Runs_as_the_non_root_uid_of_the_manifests_with_a_liveness_health_check(string file)
    {
        var text = Read(file);
        var user = UserLine().Matches(text)[^1].Groups[1].Value;
        var manifest = Kustomize.Overlay("gpu");
        var uid = manifest.Worker.Spec.Template.Spec.SecurityContext.RunAsUser;
        Assert.Equal(uid, manifest.Coordinator.Spec.Template.Spec.SecurityContext.RunAsUser);
        Assert.True(user == uid.ToString() || (user == "$APP_UID" && uid == 1654), $"{file} runs as {user}, the manifests as {uid}");

        Assert.Matches(@"HEALTHCHECK [^\n]*\\\n\s+CMD curl -fsS http://127\.0\.0\.1:8080/health/live", text);
        var exposed = Regex.Match(text, @"^EXPOSE (.+)$", RegexOptions.Multiline).Groups[1].Value.Split(' ').Select(int.Parse);
        Assert.Superset(new[] { KustomizeTests.SiloPort, KustomizeTests.HttpPort }.ToHashSet(), exposed.ToHashSet());
    }

    private static string Read(string file) => Repo.Read("silos", "OrleansDiffusion.Silo", file);

    [GeneratedRegex(@"^FROM .+$", RegexOptions.Multiline)]
    private static partial Regex FromLine();

    [GeneratedRegex(@"^USER (\S+)\s*$", RegexOptions.Multiline)]
    private static partial Regex UserLine();
}
