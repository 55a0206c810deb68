@echo off
rem Build and start the app in production mode on http://localhost:3000 (set PORT to change it).
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
call npm run build
if errorlevel 1 exit /b 1
call npm run start
exit /b %errorlevel%
