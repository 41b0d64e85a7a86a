"""Tiny, randomly initialised diffusers pipelines of each family vidgate's local engine serves,
saved with ``save_pretrained`` to a folder exactly as an operator's downloaded one is laid out.

No weights are downloaded (the registries have none and CI has no accelerator): a few layers, a
handful of channels, and a tokenizer built here with the ``tokenizers`` library, as diffusers'
own tests build theirs. What they make is noise; its shape, frame count and timing are real.

``python -m tests.local_pipelines wan-t2v DIR`` writes one (for ``bench/local.py``).
"""

from __future__ import annotations

import sys
from pathlib import Path

KINDS = ("wan-t2v", "wan-i2v", "wan-ti2v", "ltx")
TEXT_DIM = 32
#: the smallest size the tiny pipelines work at, and what tests ask the engine for at most
TINY_AREA = 32 * 32


def _tokenizer() -> object:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    words = ["<pad>", "</s>", "<unk>", "a", "the", "cat", "dog", "sea", "boat", "at", "night", "red", "blue", "light"]
    tok = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<pad>", eos_token="</s>", unk_token="<unk>")


def _text_encoder(kind: str) -> object:
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    sizes = {"vocab_size": 32, "d_model": TEXT_DIM, "d_kv": 8, "d_ff": 37, "num_layers": 1, "num_heads": 4}
    if kind.startswith("wan"):
        return UMT5EncoderModel(UMT5Config(**sizes))
    return T5EncoderModel(T5Config(**sizes))


def build(kind: str, folder: Path) -> Path:
    """Write a tiny pipeline of ``kind`` (one of KINDS) to ``folder``; returns it."""
    import torch
    from diffusers import FlowMatchEulerDiscreteScheduler

    torch.manual_seed(0)
    tokenizer, text_encoder = _tokenizer(), _text_encoder(kind)
    if kind.startswith("wan"):
        from diffusers import AutoencoderKLWan, WanImageToVideoPipeline, WanPipeline, WanTransformer3DModel

        ti2v = kind == "wan-ti2v"  # Wan 2.2 TI2V: one model for text and a first frame, its VAE 16x smaller
        z = 48 if ti2v else 16
        vae = (
            AutoencoderKLWan(
                base_dim=3,
                z_dim=z,
                in_channels=12,
                out_channels=12,
                is_residual=True,
                patch_size=2,
                latents_mean=[0.0] * z,
                latents_std=[1.0] * z,
                dim_mult=[1, 1, 1, 1],
                num_res_blocks=1,
                scale_factor_spatial=16,
                scale_factor_temporal=4,
                temperal_downsample=[False, True, True],
            )
            if ti2v
            else AutoencoderKLWan(
                base_dim=3, z_dim=z, dim_mult=[1, 1, 1, 1], num_res_blocks=1, temperal_downsample=[False, True, True]
            )
        )
        transformer = WanTransformer3DModel(
            patch_size=(1, 2, 2),
            num_attention_heads=2,
            attention_head_dim=12,
            in_channels=2 * z + 4 if kind == "wan-i2v" else z,  # Wan 2.1 image to video: the condition concatenated
            out_channels=z,
            text_dim=TEXT_DIM,
            freq_dim=256,
            ffn_dim=32,
            num_layers=2,
            cross_attn_norm=True,
            qk_norm="rms_norm_across_heads",
            rope_max_seq_len=1024,
        )
        parts = {
            "tokenizer": tokenizer,
            "text_encoder": text_encoder,
            "vae": vae,
            "scheduler": FlowMatchEulerDiscreteScheduler(shift=7.0),
            "transformer": transformer,
        }
        pipe = WanImageToVideoPipeline(**parts) if kind == "wan-i2v" else WanPipeline(**parts, expand_timesteps=ti2v)
    elif kind == "ltx":
        from diffusers import AutoencoderKLLTXVideo, LTXPipeline, LTXVideoTransformer3DModel

        transformer = LTXVideoTransformer3DModel(
            in_channels=8,
            out_channels=8,
            patch_size=1,
            patch_size_t=1,
            num_attention_heads=4,
            attention_head_dim=8,
            cross_attention_dim=32,
            num_layers=1,
            caption_channels=TEXT_DIM,
        )
        vae = AutoencoderKLLTXVideo(
            in_channels=3,
            out_channels=3,
            latent_channels=8,
            block_out_channels=(8, 8, 8, 8),
            decoder_block_out_channels=(8, 8, 8, 8),
            layers_per_block=(1, 1, 1, 1, 1),
            decoder_layers_per_block=(1, 1, 1, 1, 1),
            spatio_temporal_scaling=(True, True, False, False),
            decoder_spatio_temporal_scaling=(True, True, False, False),
            decoder_inject_noise=(False, False, False, False, False),
            upsample_residual=(False, False, False, False),
            upsample_factor=(1, 1, 1, 1),
            timestep_conditioning=False,
            patch_size=1,
            patch_size_t=1,
            encoder_causal=True,
            decoder_causal=False,
        )
        pipe = LTXPipeline(
            scheduler=FlowMatchEulerDiscreteScheduler(),
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=tokenizer,
            transformer=transformer,
        )
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    pipe.save_pretrained(folder)
    return folder


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in KINDS:
        sys.exit(f"usage: python -m tests.local_pipelines {{{'|'.join(KINDS)}}} FOLDER")
    print(build(sys.argv[1], Path(sys.argv[2])))
