@echo off
rem Run the app locally: installs dependencies when node_modules is missing, then starts the development
rem server on http://localhost:3000 (set PORT to change it). "--production" builds and serves the
rem optimized app instead.
setlocal
cd /d "%~dp0"

where npm >nul 2>nul
if errorlevel 1 (
  echo npm was not found: install Node.js 20 or newer from https://nodejs.org/ and try again. 1>&2
  exit /b 1
)

if not exist node_modules (
  call npm install --no-audit --no-fund
  if errorlevel 1 exit /b 1
)

if not defined NEXT_TELEMETRY_DISABLED set NEXT_TELEMETRY_DISABLED=1
if not defined PORT set PORT=3000
echo Starting the app on http://localhost:%PORT% (Ctrl+C to stop)
if "%~1"=="--production" (
  call npm run build
  if errorlevel 1 exit /b 1
  call npm run start
  exit /b %errorlevel%
)
call npm run dev
exit /b %errorlevel%
