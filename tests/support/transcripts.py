"""A timed conversation whose metrics were worked out by hand (see tests/unit/test_turn_taking_metrics.py):
a user backchannel inside AI speech, a user barge-in, an AI backchannel, a long silence charged
to each party, and a tool call that timing must ignore."""

AI, U = "AI Assistant", "User"
CALL = [
    {"role": AI, "content": "Hello, thanks for calling Acme. How can I help?", "start_time": 0.5, "end_time": 3.0},
    {"role": U, "content": "I want to change my booking", "start_time": 3.8, "end_time": 6.0},
    {"role": AI, "content": "Sure, I can help with that. What is the booking number?", "start_time": 6.9, "end_time": 10.0},
    {"role": U, "content": "Okay", "start_time": 8.5, "end_time": 9.0},            # backchannel in AI speech
    {"role": U, "content": "It is ABC one two three", "start_time": 10.4, "end_time": 12.0},
    {"role": "Function Call", "content": "", "data": {"id": "t1", "name": "lookup", "arguments": "{}"}},
    {"role": "Function Call Result", "data": {"id": "t1", "result": {"ok": True}}},
    {"role": AI, "content": "Let me check that for you, one moment please.", "start_time": 14.5, "end_time": 18.0},
    {"role": U, "content": "Actually wait, I need to move it", "start_time": 16.5, "end_time": 19.0},  # barge-in
    {"role": AI, "content": "No problem, go ahead.", "start_time": 19.3, "end_time": 21.0},
    {"role": U, "content": "I want to move it to Friday please", "start_time": 21.5, "end_time": 25.0},
    {"role": AI, "content": "Mhm.", "start_time": 23.0, "end_time": 23.4},        # AI backchannel
    {"role": AI, "content": "Done, it is moved to Friday.", "start_time": 25.6, "end_time": 27.0},
    {"role": U, "content": "Thanks, bye", "start_time": 30.0, "end_time": 31.0},
    {"role": AI, "content": "Goodbye!", "start_time": 31.5, "end_time": 32.5},
]
