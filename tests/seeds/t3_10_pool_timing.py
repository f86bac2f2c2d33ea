# Seed tutorial 003, "进程池 代码示例四".
# Changed for the test: run sleeps 0.05 s instead of 1.
#encoding=utf-8

import time
from multiprocessing import Pool

def run(fn):
  #fn: 函数参数是数据列表的一个元素
  time.sleep(0.05)
  return fn * fn

if __name__ == "__main__":
  testFL = [1,2,3,4,5,6]   #testFL:要处理的数据列表

  #顺序执行花费的时间
  print ('Single process execution sequence:')
  s = time.time()
  for fn in testFL:
    run(fn)
  e1 = time.time()
  print (u"顺序执行时间:", int(e1 - s))

  #创建多个进程,并行执行花费的时间
  print ('concurrent:')
  pool = Pool(5)       #创建拥有5个进程数量的进程池,假设核数就是4个,轮询处理4个,
  rl =pool.map(run, testFL)
  pool.close()         #关闭进程池,不再接受新的任务
  pool.join()          #主进程阻塞等待子进程的退出
  e2 = time.time()
  print (u"并行执行时间:", int(e2 - e1))
