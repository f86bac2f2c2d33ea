# Seed tutorial 003, "代码示例1".  Unchanged.
#encoding:utf-8

import multiprocessing

def do(n) :
  #获取当前线程的名字
  name = multiprocessing.current_process().name
  print(name,'starting')
  print("worker ", n)
  return

if __name__ == '__main__' :
  numList = []
  for i in range(5) :
    p = multiprocessing.Process(target=do, args=(i,))
    numList.append(p)    #将子进程对象添加在列表中
    p.start()            #启动进程
    #p.join()            #p进程,通过join方法通知主进程死等我结束,再继续执行,相当于顺序执行了

  for i in numList:
    i.join()             #每一个子进程执行结束后,开始下一个循环,待子进程全部执行完毕,再执行主进程

  print("Process end.")
