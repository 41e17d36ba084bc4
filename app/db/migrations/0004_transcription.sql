-- Transcription: the transcript generated from the recording is kept apart from the provided
-- one (transcription_accuracy compares them); for recording-only calls it is also the call's
-- transcript (transcript_source = 'generated').
ALTER TABLE calls ADD COLUMN generated_transcript jsonb;
