using OrleansDiffusion.Diffusion.StableDiffusion;
using OrleansDiffusion.Diffusion.StableDiffusion.Modules;
using TorchSharp;
using static TorchSharp.torch;

namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>The modules built from the real SD 1.5 configs on the meta device (shapes only, no weight memory).</summary>
public sealed class ModuleShapeTests
{
    private static readonly Device Meta = new(DeviceType.META);

    [Fact]
    public void Sd15_unet_has_the_diffusers_parameter_count_and_names()
    {
        using var unet = new UNet2DConditionModel(Sd15Configs.Read(Sd15Configs.UNet, UNetConfig.Read), Meta);
        var parameters = StrictWeights.Expected(unet);

        Assert.Equal(859_520_964, StrictWeights.Count(unet));
        Assert.Equal(686, parameters.Count);
        Assert.Equal([320, 320, 1, 1], parameters["down_blocks.0.attentions.0.proj_in.weight"]);
        Assert.Equal([1280, 768], parameters["mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"]);
        Assert.Equal([10240, 1280], parameters["up_blocks.1.attentions.2.transformer_blocks.0.ff.net.0.proj.weight"]);
        Assert.Equal([1280, 2560, 3, 3], parameters["up_blocks.0.resnets.0.conv1.weight"]);
        Assert.Equal([640, 1920, 1, 1], parameters["up_blocks.2.resnets.0.conv_shortcut.weight"]);
        Assert.Equal([1280], parameters["time_embedding.linear_2.bias"]);
        Assert.Equal([640, 640, 3, 3], parameters["down_blocks.1.downsamplers.0.conv.weight"]);
        Assert.Equal([1280, 1280, 3, 3], parameters["up_blocks.0.upsamplers.0.conv.weight"]);
        Assert.Equal([4, 320, 3, 3], parameters["conv_out.weight"]);
        Assert.DoesNotContain("down_blocks.3.attentions.0.norm.weight", parameters.Keys);
    }

    [Fact]
    public void Sd15_vae_and_text_encoder_have_the_published_sizes()
    {
        using var vae = new AutoencoderKL(Sd15Configs.Read(Sd15Configs.Vae, VaeConfig.Read), Meta);
        using var text = new ClipTextModel(Sd15Configs.Read(Sd15Configs.TextEncoder, ClipTextConfig.Read), Meta);
        var vaeKeys = StrictWeights.Expected(vae);
        var textKeys = StrictWeights.Expected(text);

        Assert.Equal(83_653_863, StrictWeights.Count(vae));
        Assert.Equal(248, vaeKeys.Count);
        Assert.Equal(123_060_480, StrictWeights.Count(text));
        Assert.Equal(196, textKeys.Count);
        Assert.Equal([512, 512], vaeKeys["decoder.mid_block.attentions.0.to_q.weight"]);
        Assert.Equal([512], vaeKeys["encoder.mid_block.attentions.0.group_norm.bias"]);
        Assert.Equal([8, 512, 3, 3], vaeKeys["encoder.conv_out.weight"]);
        Assert.Equal([768, 768], textKeys["text_model.encoder.layers.11.self_attn.k_proj.weight"]);
        Assert.Equal([49408, 768], textKeys["text_model.embeddings.token_embedding.weight"]);
        Assert.Equal([768], textKeys["text_model.final_layer_norm.weight"]);
    }

    [Fact]
    public void Sd2_style_config_uses_per_block_heads_and_linear_projections()
    {
        var json = Sd15Configs.UNet.Replace("\"attention_head_dim\": 8", "\"attention_head_dim\": [5, 10, 20, 20], \"use_linear_projection\": true")
            .Replace("\"cross_attention_dim\": 768", "\"cross_attention_dim\": 1024");
        using var unet = new UNet2DConditionModel(Sd15Configs.Read(json, UNetConfig.Read), Meta);
        var parameters = StrictWeights.Expected(unet);

        Assert.Equal([320, 320], parameters["down_blocks.0.attentions.0.proj_in.weight"]);
        Assert.Equal([1280, 1024], parameters["mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"]);
        Assert.Equal(865_910_724, StrictWeights.Count(unet));
    }
}
