"""The production server: uvicorn with request-head limits, a drain that cuts nothing, workers."""
