namespace OrleansDiffusion.Diffusion.Tests.StableDiffusion;

/// <summary>The configs of runwayml/stable-diffusion-v1-5 (diffusers layout), as published.</summary>
internal static class Sd15Configs
{
    public const string UNet = """
        {
          "_class_name": "UNet2DConditionModel",
          "_diffusers_version": "0.6.0",
          "act_fn": "silu",
          "attention_head_dim": 8,
          "block_out_channels": [320, 640, 1280, 1280],
          "center_input_sample": false,
          "cross_attention_dim": 768,
          "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
          "downsample_padding": 1,
          "flip_sin_to_cos": true,
          "freq_shift": 0,
          "in_channels": 4,
          "layers_per_block": 2,
          "mid_block_scale_factor": 1,
          "norm_eps": 1e-05,
          "norm_num_groups": 32,
          "out_channels": 4,
          "sample_size": 64,
          "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"]
        }
        """;

    public const string Vae = """
        {
          "_class_name": "AutoencoderKL",
          "_diffusers_version": "0.6.0",
          "act_fn": "silu",
          "block_out_channels": [128, 256, 512, 512],
          "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D", "DownEncoderBlock2D"],
          "in_channels": 3,
          "latent_channels": 4,
          "layers_per_block": 2,
          "norm_num_groups": 32,
          "out_channels": 3,
          "sample_size": 512,
          "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D", "UpDecoderBlock2D"]
        }
        """;

    public const string TextEncoder = """
        {
          "architectures": ["CLIPTextModel"],
          "attention_dropout": 0.0,
          "bos_token_id": 0,
          "eos_token_id": 2,
          "hidden_act": "quick_gelu",
          "hidden_size": 768,
          "initializer_factor": 1.0,
          "initializer_range": 0.02,
          "intermediate_size": 3072,
          "layer_norm_eps": 1e-05,
          "max_position_embeddings": 77,
          "model_type": "clip_text_model",
          "num_attention_heads": 12,
          "num_hidden_layers": 12,
          "pad_token_id": 1,
          "projection_dim": 768,
          "torch_dtype": "float32",
          "vocab_size": 49408
        }
        """;

    /// <summary>Writes <paramref name="json"/> to a temporary file and reads it with <paramref name="read"/>.</summary>
    public static T Read<T>(string json, Func<string, T> read)
    {
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllText(path, json);
            return read(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
