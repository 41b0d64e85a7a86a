"""Every example request of the five reference pages (apimart's documentation of the five models), as sent there."""

from __future__ import annotations

from typing import Any

CAT = "A golden cat running on a sunlit meadow, slow motion, cinematic quality"
MC_IMAGE = "https://example.com/ref-image.png"

SEED_EXAMPLES: dict[str, dict[str, Any]] = {
    # kling-v2-6.de.txt
    "v26-curl": {"model": "kling-v2-6", "prompt": CAT, "mode": "std", "duration": 5, "aspect_ratio": "16:9"},
    "v26-pro-negative": {
        "model": "kling-v2-6",
        "prompt": "Tokyo Shibuya crossing at night, neon lights reflected on wet ground, people walking with umbrellas",
        "negative_prompt": "blurry, low quality, distorted",
        "mode": "pro",
        "duration": 10,
        "aspect_ratio": "16:9",
    },
    "v26-first-frame": {
        "model": "kling-v2-6",
        "prompt": "The person in the frame turns and smiles",
        "image_urls": ["https://example.com/portrait.jpg"],
        "mode": "std",
        "duration": 5,
        "aspect_ratio": "16:9",
    },
    "v26-first-last": {
        "model": "kling-v2-6",
        "prompt": "City timelapse transitioning from day to night",
        "image_urls": ["https://example.com/day-city.jpg", "https://example.com/night-city.jpg"],
        "mode": "pro",
        "duration": 5,
    },
    "v26-pro-audio": {
        "model": "kling-v2-6",
        "prompt": "Waves crashing against rocks, seagulls circling in the sky, lighthouse in the distance",
        "mode": "pro",
        "duration": 10,
        "audio": True,
        "aspect_ratio": "16:9",
    },
    # kling-v3.ko.txt
    "v3-curl": {
        "model": "kling-v3",
        "prompt": "금빛 고양이가 햇살 가득한 초원을 달리는 모습, 슬로우 모션, 영화적 질감",
        "mode": "std",
        "duration": 5,
        "aspect_ratio": "16:9",
    },
    "v3-std": {
        "model": "kling-v3",
        "prompt": "a golden retriever running on the beach, sunset, cinematic",
        "mode": "std",
        "duration": 5,
        "aspect_ratio": "16:9",
    },
    "v3-pro-negative": {
        "model": "kling-v3",
        "prompt": "Tokyo Shibuya crossing, rainy night with neon lights reflecting on wet ground, pedestrians with umbrellas",
        "negative_prompt": "흐림, 저화질, 왜곡",
        "mode": "pro",
        "duration": 10,
        "aspect_ratio": "16:9",
    },
    "v3-15s": {
        "model": "kling-v3",
        "prompt": "a time-lapse of a flower blooming in a garden",
        "duration": 15,
        "aspect_ratio": "16:9",
    },
    "v3-first-frame": {
        "model": "kling-v3",
        "prompt": "the cat slowly walks forward and looks around",
        "image_urls": ["https://example.com/cat.jpg"],
        "mode": "std",
        "duration": 5,
    },
    "v3-first-last": {
        "model": "kling-v3",
        "prompt": "smooth cinematic transition",
        "image_urls": ["https://example.com/frame-start.jpg", "https://example.com/frame-end.jpg"],
        "mode": "std",
        "duration": 5,
    },
    "v3-audio": {
        "model": "kling-v3",
        "prompt": "이 무대에서 노래하는 록 가수, 콘서트 장면, 깜박이는 조명",
        "audio": True,
        "mode": "std",
        "duration": 5,
    },
    "v3-multi-shot": {
        "model": "kling-v3",
        "multi_prompt": [
            {
                "index": 1,
                "prompt": "Two friends talking under a streetlight at night. Warm glow, casual poses, no dialogue.",
                "duration": 2,
            },
            {
                "index": 2,
                "prompt": "A runner sprinting through a forest, leaves flying. Low-angle shot, focus on movement.",
                "duration": 3,
            },
            {
                "index": 3,
                "prompt": "A woman hugging a cat, smiling. Soft sunlight, cozy home setting, emphasize warmth.",
                "duration": 3,
            },
            {
                "index": 4,
                "prompt": "A door creaking open, shadowy hallway. Dark tones, minimal details, eerie mood.",
                "duration": 3,
            },
            {
                "index": 5,
                "prompt": "A man slipping on a banana peel, shocked expression. Exaggerated pose, bright colors.",
                "duration": 3,
            },
            {
                "index": 6,
                "prompt": "A sunset over mountains, small figure walking away. Wide angle, peaceful atmosphere.",
                "duration": 1,
            },
        ],
        "multi_shot": True,
        "shot_type": "customize",
        "duration": 15,
        "mode": "pro",
        "audio": True,
        "size": "9:16",
    },
    "v3-elements": {
        "model": "kling-v3",
        "prompt": "@element_dog 와 @element_cat 이 잔디에서 뛰어놉니다",
        "element_list": [
            {
                "name": "element_dog",
                "description": "a golden retriever, fluffy fur, friendly expression",
                "element_input_urls": ["https://example.com/image1.png", "https://example.com/image2.png"],
            },
            {
                "name": "element_cat",
                "description": "an orange tabby cat, round face, bright eyes",
                "element_input_urls": ["https://example.com/image1.png", "https://example.com/image2.png"],
            },
        ],
    },
    # motion-control.zh.txt / motion-control.ja.txt
    "mc-curl-zh": {
        "model": "kling-v2-6-motion-control",
        "prompt": "保持人物面部特征一致,按参考视频完成转身挥手动作,电影感光影",
        "image_url": MC_IMAGE,
        "video_url": "https://example.com/ref-video-8s.mp4",
        "keep_original_sound": "yes",
        "character_orientation": "image",
        "mode": "std",
        "watermark_info": {"enabled": False},
    },
    "mc-image": {
        "model": "kling-v2-6-motion-control",
        "prompt": "参考画像のキャラクターの向きに合わせて振り向いて手を振る",
        "image_url": MC_IMAGE,
        "video_url": "https://example.com/ref-video-8s.mp4",
        "character_orientation": "image",
        "mode": "std",
        "keep_original_sound": "yes",
        "watermark_info": {"enabled": False},
    },
    "mc-video": {
        "model": "kling-v2-6-motion-control",
        "prompt": "跟随参考视频的人物朝向和节奏,保持动作连贯",
        "image_url": MC_IMAGE,
        "video_url": "https://example.com/ref-video-12s.mp4",
        "character_orientation": "video",
        "mode": "pro",
        "keep_original_sound": "no",
        "watermark_info": {"enabled": False},
    },
    "mc-v3": {
        "model": "kling-v3-motion-control",
        "prompt": "キャラクターが参考動画に合わせて踊る、滑らかな動き、リアルなスタイル",
        "image_url": MC_IMAGE,
        "video_url": "https://example.com/ref-video-8s.mp4",
        "character_orientation": "image",
        "mode": "pro",
    },
    # omni-flash-ext.zh.txt
    "omni-curl": {
        "model": "Omni-Flash-Ext",
        "prompt": "a girl is dancing happily in a sunny garden",
        "duration": 10,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
    },
    "omni-text": {
        "model": "Omni-Flash-Ext",
        "prompt": "a beautiful sunset over the ocean with seagulls flying",
        "duration": 6,
        "resolution": "720p",
        "aspect_ratio": "16:9",
    },
    "omni-image": {
        "model": "Omni-Flash-Ext",
        "prompt": "make the character smile and slowly turn around, cinematic camera motion",
        "duration": 6,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
        "image_urls": ["https://example.com/character.jpg"],
    },
    "omni-three": {
        "model": "Omni-Flash-Ext",
        "prompt": "a creative scene combining these elements with smooth camera motion",
        "duration": 10,
        "resolution": "1080p",
        "aspect_ratio": "9:16",
        "image_urls": [
            "https://example.com/scene.jpg",
            "https://example.com/character.jpg",
            "https://example.com/product.jpg",
        ],
    },
    "omni-4k": {
        "model": "Omni-Flash-Ext",
        "prompt": "close-up of a hummingbird hovering in front of a red flower",
        "duration": 4,
        "resolution": "4k",
        "aspect_ratio": "16:9",
    },
}
