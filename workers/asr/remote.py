"""Remote transcription through an OpenAI-compatible `/audio/transcriptions` endpoint.

Each channel is sent as a mono 16 kHz WAV with `response_format=verbose_json` and
`timestamp_granularities[]=word`; the answer's `words` ([{word, start, end}]) are the result.
429, 5xx, timeouts and connection errors are transient (the stage retries with backoff); other
answers fail the transcription with the status.
"""
from __future__ import annotations

import requests

from workers.asr.base import Word, transcription_failure


class OpenAITranscriber:
    name = "openai-compatible"

    def __init__(self, base_url: str, api_key: str, model: str, timeout: float,
                 session: requests.Session | None = None):
        self.url = base_url.rstrip("/") + "/audio/transcriptions"
        self.model, self.timeout = model, timeout
        self.headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.session = session or requests.Session()
        self.session.trust_env = False  # the endpoint is exactly the setting: no proxy variables

    def transcribe_channels(self, wav_paths: list[str], speech=None) -> list[list[Word]]:
        """Whole channels (`speech` is not used: the provider finds the speech itself)."""
        return [self.transcribe(path) for path in wav_paths]

    def transcribe(self, wav_path: str) -> list[Word]:
        data = {"model": self.model, "response_format": "verbose_json", "timestamp_granularities[]": "word",
                "language": "en"}
        try:
            with open(wav_path, "rb") as audio:
                response = self.session.post(self.url, headers=self.headers, data=data, timeout=self.timeout,
                                             files={"file": ("channel.wav", audio, "audio/wav")})
        except requests.RequestException as exc:
            raise transcription_failure(f"transcription request failed: {type(exc).__name__}", transient=True) from exc
        if response.status_code != 200:
            transient = response.status_code == 429 or response.status_code >= 500
            raise transcription_failure(f"transcription endpoint answered {response.status_code}", transient=transient)
        try:
            words = response.json()["words"]
            return [Word(float(w["start"]), float(w["end"]), str(w["word"]).strip())
                    for w in words if str(w["word"]).strip()]
        except (ValueError, KeyError, TypeError) as exc:
            raise transcription_failure("the transcription answer has no usable `words`") from exc
