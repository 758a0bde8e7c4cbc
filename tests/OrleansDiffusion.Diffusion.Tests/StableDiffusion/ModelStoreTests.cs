using OrleansDiffusion.Diffusion.StableDiffusion;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

public sealed class ModelStoreTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("odiff-store-").FullName;
    private readonly string _models;

    public ModelStoreTests()
    {
        _models = Path.Combine(_root, "models");
        Directory.CreateDirectory(_models);
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public void A_name_resolves_to_its_folder_under_the_directory()
    {
        TinyModel.Write(Path.Combine(_models, "tiny"));
        var store = new ModelStore(_models);

        Assert.Equal(Path.Combine(_models, "tiny"), store.Resolve("tiny"));
    }

    [Theory]
    [InlineData("../x")]
    [InlineData("/etc")]
    [InlineData("..")]
    [InlineData(".hidden")]
    [InlineData("a/b")]
    [InlineData("")]
    public void Paths_are_not_names(string name)
    {
        var store = new ModelStore(_models);

        var error = Assert.Throws<ModelStoreException>(() => store.Resolve(name));
        Assert.Equal(name, error.Name);
    }

    [Fact]
    public void An_unknown_name_says_it_is_not_in_the_store()
    {
        var error = Assert.Throws<ModelStoreException>(() => new ModelStore(_models).Resolve("sd15"));
        Assert.Contains("'sd15' is not in the model store", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_linking_outside_the_store_is_refused()
    {
        var outside = Path.Combine(_root, "outside");
        TinyModel.Write(outside);
        Directory.CreateSymbolicLink(Path.Combine(_models, "escape"), outside);
        var store = new ModelStore(_models);

        var error = Assert.Throws<ModelStoreException>(() => store.Resolve("escape"));
        Assert.Contains("links outside the model store", error.Message, StringComparison.Ordinal);
        Assert.Contains(store.List(), m => m.Name == "escape" && m.Error is not null);
    }

    [Fact]
    public void A_weight_file_linking_outside_the_store_is_refused_but_links_inside_are_fine()
    {
        TinyModel.Write(Path.Combine(_models, "inside"));
        var blobs = Path.Combine(_models, "blobs");
        Directory.CreateDirectory(blobs);
        var vae = Path.Combine(_models, "inside", "vae", "diffusion_pytorch_model.safetensors");
        File.Move(vae, Path.Combine(blobs, "vae-blob"));
        File.CreateSymbolicLink(vae, "../../blobs/vae-blob");
        var store = new ModelStore(_models);
        Assert.Equal("inside", store.Describe("inside").Name);

        TinyModel.Write(Path.Combine(_models, "leaky"));
        var unet = Path.Combine(_models, "leaky", "unet", "diffusion_pytorch_model.safetensors");
        File.Move(unet, Path.Combine(_root, "unet-outside"));
        File.CreateSymbolicLink(unet, Path.Combine(_root, "unet-outside"));

        var error = Assert.Throws<ModelStoreException>(() => store.Describe("leaky"));
        Assert.Contains("links outside the model store", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Listing_reads_headers_only_and_reports_family_parameters_and_dtype()
    {
        TinyModel.Write(Path.Combine(_models, "tiny"));
        SparseModelFolder.WriteSd15(Path.Combine(_models, "sd15"));
        Directory.CreateDirectory(Path.Combine(_models, "broken"));
        File.WriteAllText(Path.Combine(_models, "broken", "model_index.json"), "{");
        Directory.CreateDirectory(Path.Combine(_models, "not-a-model"));

        var models = new ModelStore(_models).List();

        Assert.Equal(["broken", "sd15", "tiny"], models.Select(m => m.Name));
        var sd15 = models[1];
        Assert.Equal("sd1", sd15.Family);
        Assert.Equal(859_520_964L + 83_653_863 + 123_060_480, sd15.Parameters);
        Assert.Equal(["F32"], sd15.DTypes);
        Assert.Null(sd15.Error);
        Assert.Equal("sd-32", models[2].Family); // the tiny model's text encoder is 32 wide
        Assert.Contains("model_index.json", models[0].Error, StringComparison.Ordinal);
    }
}
